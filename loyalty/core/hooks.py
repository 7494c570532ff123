"""The core's extension points: where a feature app lets itself be called by the core.

A feature registers in its AppConfig.ready(); the core never imports a feature. Nothing here
imports a model, so an apps.py can import this module at its top.

- Purchase hooks run for every purchase recorded, inside its transaction and under the buyer's
  row lock, after the points are credited (referrals: a friend's first purchase may qualify).
  A hook may say, as a query expression over the member, when it has something to do: the
  purchase's member lookup evaluates it in the same statement (loyalty.core.purchases), so a
  hook with nothing to do for this buyer costs no query.
- Refund hooks run for every refund recorded, inside its transaction (referrals: a refund may
  take a referral's bonuses back).
- Enrolment hooks run for every member enrolled, inside the enrolment's transaction, with what
  came with the sign-up (referrals: the member's own code, and a referral if a friend's code
  came along). A hook that raises refuses the enrolment: nothing is written.
- Member page links: a feature's staff page for one member, linked from the member's admin page
  (rewards: "Send a gift"), shown to staff with the link's permission.
- Member hooks run when a member closes their account (`close(member=...)`, inside
  member_close's transaction, under the member's row lock, before the membership is closed:
  rewards cancels unused vouchers, referrals withdraws invitations) and when staff erase a
  member's personal data (`erase(member=..., personal=...)`, inside the erasure's transaction:
  each app removes or blanks what it keeps about the person; `personal` holds the values to
  look for, see loyalty.core.erasure.Personal).
- Pause hooks run when a member's hardship pause begins, is extended or ends, inside its transaction
  and under the member's row lock, with the days the member's expiry dates move forward and
  the day none may fall before (rewards: the unused vouchers' dates move with the points').
- Ledger wordings: how a feature words the ledger entries whose cause is one of its models
  (`words(entries, view)` returns {entry id: words} in the active language, loading what it
  needs for all of them in one query); loyalty.core.wording renders every entry with them.
- Jobs: the scheduled jobs (loyalty.core.jobs runs them). A job is a list of steps; a feature
  registers jobs of its own, or adds steps to a job another app registered (the daily expiry
  job expires vouchers and referrals too).

Hooks run in the order they were registered, which is the order of INSTALLED_APPS. A hook or
a step names its function by dotted path ("referrals.services.referral_check_purchase"), found
when it is called: registering imports nothing, and the function is the module's current one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.utils.module_loading import import_string

# A function, or its dotted path.
Target = str | Callable[..., Any]


def _function(target: Target) -> Callable[..., Any]:
    return import_string(target) if isinstance(target, str) else target


# --- purchases, refunds, enrolments ---------------------------------------------------------------


@dataclass(frozen=True)
class PurchaseHook:
    """`target(purchase=...)` for each purchase recorded. `applies()`, if given, returns a boolean
    expression over accounts.Member (Exists(...) with OuterRef("pk"), say): for a buyer for whom
    it is false, the hook is not run. It is evaluated in the statement that locks the buyer's
    row, with that statement's snapshot: it must be about what cannot change while a purchase
    waits for the lock (having been referred is settled at enrolment)."""

    name: str
    target: Target
    applies: Target | None = None

    def run(self, **kwargs) -> Any:
        return _function(self.target)(**kwargs)

    def condition(self) -> Any:
        """The expression `applies` returns (None: the hook always runs)."""
        return _function(self.applies)() if self.applies is not None else None


@dataclass(frozen=True)
class RefundHook:
    """`target(refund=...)` for each refund recorded."""

    name: str
    target: Target

    def run(self, **kwargs) -> Any:
        return _function(self.target)(**kwargs)


@dataclass(frozen=True)
class EnrolmentHook:
    """`target(member=..., signup=...)` for each member enrolled (signup: enrolment.Signup)."""

    name: str
    target: Target

    def run(self, **kwargs) -> Any:
        return _function(self.target)(**kwargs)


@dataclass(frozen=True)
class MemberHook:
    """`close(member=...)` when a member closes their account, `erase(member=..., personal=...)`
    when their personal data is erased; either may be None."""

    name: str
    close: Target | None = None
    erase: Target | None = None

    def run_close(self, **kwargs) -> Any:
        return _function(self.close)(**kwargs) if self.close is not None else None

    def run_erase(self, **kwargs) -> Any:
        return _function(self.erase)(**kwargs) if self.erase is not None else None


@dataclass(frozen=True)
class PauseHook:
    """`target(member_id=..., days=..., not_before=...)` when a hardship pause begins, is
    extended or ends: move the member's open expiry dates forward by `days` (0 at the end), and
    none to before the date `not_before`."""

    name: str
    target: Target

    def run(self, **kwargs) -> Any:
        return _function(self.target)(**kwargs)


_purchase_hooks: list[PurchaseHook] = []
_refund_hooks: list[RefundHook] = []
_enrolment_hooks: list[EnrolmentHook] = []
_member_hooks: list[MemberHook] = []
_pause_hooks: list[PauseHook] = []


def _add(hooks: list, hook) -> None:
    if any(known.name == hook.name for known in hooks):
        raise ValueError(f"A hook named {hook.name!r} is registered already.")
    hooks.append(hook)


def purchase_hook_register(hook: PurchaseHook) -> None:
    _add(_purchase_hooks, hook)


def refund_hook_register(hook: RefundHook) -> None:
    _add(_refund_hooks, hook)


def enrolment_hook_register(hook: EnrolmentHook) -> None:
    _add(_enrolment_hooks, hook)


def member_hook_register(hook: MemberHook) -> None:
    _add(_member_hooks, hook)


def pause_hook_register(hook: PauseHook) -> None:
    _add(_pause_hooks, hook)


def purchase_hooks() -> tuple[PurchaseHook, ...]:
    return tuple(_purchase_hooks)


def refund_hooks() -> tuple[RefundHook, ...]:
    return tuple(_refund_hooks)


def enrolment_hooks() -> tuple[EnrolmentHook, ...]:
    return tuple(_enrolment_hooks)


def member_hooks() -> tuple[MemberHook, ...]:
    return tuple(_member_hooks)


# --- links on the member's admin page -----------------------------------------------------------


@dataclass(frozen=True)
class MemberPageLink:
    """A button on the member's admin page: `url_name` is an admin URL reversed with the
    member's id, `label` is for staff (translatable), `permission` ("app.codename") who sees it."""

    name: str
    label: Any
    url_name: str
    permission: str


_member_page_links: list[MemberPageLink] = []


def member_page_link_register(link: MemberPageLink) -> None:
    _add(_member_page_links, link)


def member_page_links() -> tuple[MemberPageLink, ...]:
    return tuple(_member_page_links)


def pause_hooks() -> tuple[PauseHook, ...]:
    return tuple(_pause_hooks)


# --- ledger wordings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LedgerWording:
    """`target(entries, view)` words the entries whose cause is `model` ("app_label.Model"):
    {entry id: words} in the active language (loyalty.core.wording.LedgerView says who reads)."""

    name: str
    model: str
    target: Target

    def words(self, entries, view) -> dict[int, str]:
        return _function(self.target)(entries, view)


_ledger_wordings: list[LedgerWording] = []


def ledger_wording_register(wording: LedgerWording) -> None:
    _add(_ledger_wordings, wording)


def ledger_wordings() -> dict[str, LedgerWording]:
    """{"app_label.model" (lower case): its wording}."""
    return {w.model.lower(): w for w in _ledger_wordings}


# --- scheduled jobs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """A part of a job. `plan(day, size)` yields batches of ids (keyset, one query per batch);
    None means one batch without ids. `work(ids=, day=, run=)` does one batch and returns its
    jobs.Counts (`run` is the JobRun). An `atomic` step's batch is one transaction with its
    JobBatch claim; a step that is not manages its own transactions and must be idempotent by
    itself."""

    name: str
    work: Target
    plan: Target | None = None
    atomic: bool = True

    def run(self, *, ids: list[int], day: date, run) -> Any:
        return _function(self.work)(ids=ids, day=day, run=run)

    def batches(self, day: date, size: int) -> Iterator[list[int]]:
        return _function(self.plan)(day, size)


@dataclass(frozen=True)
class Job:
    """A scheduled job: its name (run_job NAME, JobRun.name), a label for staff (translatable)
    and its steps. A `catch_up` job pays for days: each run covers the days since its last
    completed run (loyalty.core.catchup), recorded when the run starts."""

    name: str
    label: Any
    steps: tuple[Step, ...]
    catch_up: bool = False

    def step(self, name: str) -> Step:
        return next(step for step in self.steps if step.name == name)


_jobs: dict[str, Job] = {}


def job_register(job: Job) -> None:
    if job.name in _jobs:
        raise ValueError(f"A job named {job.name!r} is registered already.")
    _jobs[job.name] = job


def job_steps_add(name: str, *steps: Step) -> None:
    """Add steps to a job another app registered (its app comes first in INSTALLED_APPS)."""
    job = _jobs[name]
    _jobs[name] = Job(job.name, job.label, (*job.steps, *steps), job.catch_up)


def jobs() -> dict[str, Job]:
    """Every registered job, by name, in the order of registration."""
    return dict(_jobs)
