"""A stateful property test: random sequences of ledger actions against an independent model."""

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from accounts.models import Member, User
from loyalty.core.errors import InsufficientPoints, InvalidPoints
from loyalty.core.expiry import points_expire
from loyalty.core.ledger import points_adjust, points_credit, points_debit, points_reverse
from loyalty.core.models import LedgerEntry, PointLot
from tests import factories
from tests.ledger import assert_ledger_invariants

START = date(2030, 1, 1)
NEVER = date.max


class ModelLot:
    def __init__(self, entry_id, points, expires_on, seq):
        self.entry_id = entry_id
        self.points = points
        self.remaining = points
        self.expires_on = expires_on
        self.seq = seq

    def order(self):
        return (self.expires_on or NEVER, self.seq)


class LedgerMachine(RuleBasedStateMachine):
    """The model keeps lots and balance in plain Python, computed its own way."""

    def __init__(self):
        super().__init__()
        self.member = factories.make_member()
        self.staff = User.objects.filter(is_staff=True).first()
        self.lots: list[ModelLot] = []
        self.taken: dict[int, list[list]] = {}  # debit entry id -> [lot, points still out]
        self.reversed: dict[int, int] = {}  # credit entry id -> points taken back so far
        self.credits: list[int] = []
        self.debits: list[int] = []
        self.today = START

    @property
    def balance(self) -> int:
        return sum(lot.remaining for lot in self.lots)

    def _fresh(self) -> Member:
        return Member.objects.get(pk=self.member.pk)

    def _model_take(self, points, prefer=None):
        order = sorted((lot for lot in self.lots if lot.remaining), key=ModelLot.order)
        if prefer is not None and prefer.remaining:
            order.remove(prefer)
            order.insert(0, prefer)
        taken = []
        for lot in order:
            take = min(lot.remaining, points)
            if take:
                lot.remaining -= take
                taken.append((lot, take))
                points -= take
        assert points == 0
        return taken

    @rule(points=st.integers(1, 500), days=st.one_of(st.none(), st.integers(0, 400)))
    def credit(self, points, days):
        expires_on = None if days is None else self.today + timedelta(days=days)
        entry = points_credit(
            member=self._fresh(),
            points=points,
            kind=LedgerEntry.Kind.GIFT,
            cause=self.member,
            expires_on=expires_on,
        )
        self.lots.append(ModelLot(entry.pk, points, expires_on, len(self.lots)))
        self.credits.append(entry.pk)

    @rule(points=st.integers(1, 800))
    def debit(self, points):
        if points > self.balance:
            with pytest.raises(InsufficientPoints):
                points_debit(member=self._fresh(), points=points, cause=self.member)
            return
        entry = points_debit(member=self._fresh(), points=points, cause=self.member)
        assert entry.balance_after == self.balance - points
        self.taken[entry.pk] = [list(pair) for pair in self._model_take(points)]
        self.debits.append(entry.pk)

    @rule(points=st.integers(-300, 300).filter(bool))
    def adjust(self, points):
        if points < 0 and -points > self.balance:
            with pytest.raises(InsufficientPoints):
                points_adjust(
                    member=self._fresh(), points=points, staff_user=self.staff, reason="test"
                )
            return
        entry = points_adjust(
            member=self._fresh(), points=points, staff_user=self.staff, reason="test"
        )
        if points > 0:
            expires_on = PointLot.objects.get(entry=entry).expires_on
            self.lots.append(ModelLot(entry.pk, points, expires_on, len(self.lots)))
            self.credits.append(entry.pk)
        else:
            self.taken[entry.pk] = [list(pair) for pair in self._model_take(-points)]
            self.debits.append(entry.pk)

    @precondition(lambda self: self.debits)
    @rule(data=st.data())
    def reverse_debit(self, data):
        entry_id = data.draw(st.sampled_from(self.debits))
        outstanding = self.taken[entry_id]
        open_points = sum(amount for _, amount in outstanding)
        if open_points == 0:
            with pytest.raises(InvalidPoints):
                points_reverse(entry=LedgerEntry.objects.get(pk=entry_id))
            return
        points = data.draw(st.integers(1, open_points))
        result = points_reverse(entry=LedgerEntry.objects.get(pk=entry_id), points=points)
        assert (result.points_reversed, result.points_unrecovered) == (points, 0)
        left = points
        for pair in sorted(outstanding, key=lambda pair: pair[0].order()):
            give = min(pair[1], left)
            pair[0].remaining += give
            pair[1] -= give
            left -= give

    @precondition(lambda self: self.credits)
    @rule(data=st.data())
    def reverse_credit(self, data):
        entry_id = data.draw(st.sampled_from(self.credits))
        lot = next(lot for lot in self.lots if lot.entry_id == entry_id)
        open_points = lot.points - self.reversed.get(entry_id, 0)
        if open_points == 0:
            with pytest.raises(InvalidPoints):
                points_reverse(entry=LedgerEntry.objects.get(pk=entry_id))
            return
        expected = min(open_points, self.balance)
        result = points_reverse(entry=LedgerEntry.objects.get(pk=entry_id))
        assert (result.points_reversed, result.points_unrecovered) == (
            expected,
            open_points - expected,
        )
        self.reversed[entry_id] = self.reversed.get(entry_id, 0) + expected
        if expected:
            self._model_take(expected, prefer=lot)

    @rule(days=st.integers(0, 120))
    def expire(self, days):
        self.today += timedelta(days=days)
        entries = points_expire(member=self._fresh(), today=self.today)
        due = [
            lot
            for lot in self.lots
            if lot.remaining and lot.expires_on is not None and lot.expires_on <= self.today
        ]
        assert sorted(-e.points for e in entries) == sorted(lot.remaining for lot in due)
        for lot in due:
            lot.remaining = 0

    @invariant()
    def matches_the_model(self):
        assert Member.objects.get(pk=self.member.pk).points_balance == self.balance
        stored = dict(
            PointLot.objects.filter(member=self.member).values_list("entry_id", "remaining")
        )
        assert stored == {lot.entry_id: lot.remaining for lot in self.lots}

    @invariant()
    def ledger_invariants_hold(self):
        assert_ledger_invariants()


def test_ledger_matches_an_independent_model(db, tiers, staff_user):
    LedgerMachine.TestCase.settings = settings(
        max_examples=60,
        stateful_step_count=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    from hypothesis.stateful import run_state_machine_as_test

    run_state_machine_as_test(LedgerMachine, settings=LedgerMachine.TestCase.settings)
