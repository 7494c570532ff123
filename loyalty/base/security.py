"""Security headers for the staff pages: a Content-Security-Policy on everything under /admin/.

The admin's own scripts are files (Django's admin has no inline scripts since 4.x), so scripts
come from the site alone; inline style attributes stay allowed (the admin's templates use a
few). No frames, no plugins, no form posting anywhere else: an injected script or form in a
staff page would find nowhere to run or send what it took."""

ADMIN_PREFIX = "/admin/"
ADMIN_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "frame-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    ]
)


class AdminSecurityMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path_info.startswith(ADMIN_PREFIX):
            response.headers.setdefault("Content-Security-Policy", ADMIN_CONTENT_SECURITY_POLICY)
        return response
