# SPDX-License-Identifier: Apache-2.0
"""Dashboard sign-in, sessions, CSRF, security headers, the session secret and the vendored chart library."""

from __future__ import annotations

import hashlib
import os
import re
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from hub.app import create_app
from hub.dashboard import STATIC_DIR
from hub.dashboard.pages import CONTENT_SECURITY_POLICY
from hub.dashboard.secret import SESSION_SECRET_FILE, SessionSecretError, load_or_create_session_secret
from hub.dashboard.session import SESSION_LIFETIME, SessionCookies
from hub.dashboard.signin import safe_next
from hub.db import write_session
from hub.services.tokens import TokenService
from tests.support.hubs import HubUnderTest, start_hub

VIEWS = ["/trends", "/corridors", "/demography", "/completeness"]
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _client(hub: HubUnderTest, base_url: str = "http://testserver") -> TestClient:
    return TestClient(hub.client.app, base_url=base_url, follow_redirects=False)


def _csrf(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, html
    return found.group(1)


def _set_cookies(response: object) -> dict[str, SimpleCookie]:
    """Set-Cookie headers by cookie name (each parsed with its attributes)."""
    cookies = {}
    for header in response.headers.get_list("set-cookie"):  # type: ignore[attr-defined]
        parsed = SimpleCookie()
        parsed.load(header)
        for name in parsed:
            cookies[name] = parsed
    return cookies


def sign_in(client: TestClient, token: str, next_path: str = "/trends"):  # type: ignore[no-untyped-def]
    form = client.get("/login", params={"next": next_path})
    assert form.status_code == 200
    return client.post("/login", data={"token": token, "csrf": _csrf(form.text), "next": next_path})


def _token(hub: HubUnderTest, role: str = "coordinator", **kwargs: object) -> tuple[int, str]:
    with write_session(hub.context.sessions) as session:
        created = TokenService(session).create(role=role, label=f"extra {role}", now=hub.clock(), **kwargs)  # type: ignore[arg-type]
        return created.record.id, created.token


# ---------------------------------------------------------------------------------------------- signed out


@pytest.mark.parametrize("path", [*VIEWS, "/trends/export?format=csv", "/"])
def test_signed_out_visitors_are_sent_to_sign_in(hub: HubUnderTest, path: str) -> None:
    response = _client(hub).get(path)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    if path != "/":
        assert response.headers["location"] == "/login?next=" + path.replace("/", "%2F").replace("?", "%3F").replace(
            "=", "%3D"
        )


def test_the_api_still_wants_bearer_tokens(hub: HubUnderTest) -> None:
    """A dashboard session is no API credential: API routes answer 401 problems, never redirects."""
    client = _client(hub)
    assert sign_in(client, hub.tokens["coordinator"]).status_code == 303
    response = client.get("/v1/stats/contacts")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


# ---------------------------------------------------------------------------------------------- sign-in


def test_signing_in_sets_an_http_only_strict_session_cookie_without_the_token(hub: HubUnderTest) -> None:
    client = _client(hub)
    form = client.get("/login")
    assert form.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    signin_cookie = _set_cookies(form)["tipshare_signin"]["tipshare_signin"]
    assert signin_cookie["httponly"]
    assert signin_cookie["samesite"].lower() == "strict"

    token = hub.tokens["coordinator"]
    response = client.post("/login", data={"token": token, "csrf": _csrf(form.text), "next": "/corridors?top=15"})
    assert response.status_code == 303
    assert response.headers["location"] == "/corridors?top=15"
    cookie = _set_cookies(response)["tipshare_session"]["tipshare_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"].lower() == "strict"
    assert cookie["path"] == "/"
    assert cookie["max-age"] == str(int(SESSION_LIFETIME.total_seconds()))
    assert not cookie["secure"]  # plain HTTP (tests); see the HTTPS test
    assert token not in cookie.value
    assert token[4:20] not in response.headers.get("set-cookie", "")
    page = client.get("/corridors")
    assert page.status_code == 200
    assert "test coordinator" in page.text
    assert token not in page.text


def test_over_https_the_cookies_are_secure_and_host_prefixed(hub: HubUnderTest) -> None:
    client = _client(hub, base_url="https://testserver")
    response = sign_in(client, hub.tokens["auditor"])
    assert response.status_code == 303
    cookies = _set_cookies(response)
    cookie = cookies["__Host-tipshare_session"]["__Host-tipshare_session"]
    assert cookie["secure"] is True
    assert cookie["path"] == "/"
    assert not cookie["domain"]
    assert client.get("/trends").status_code == 200  # an auditor may use the dashboard too


@pytest.mark.parametrize(
    ("token", "status", "message"),
    [
        ("tsh_not-a-real-token", 401, "not valid"),
        ("", 401, "not valid"),
        ("admin", 403, "cannot use the dashboard"),
    ],
)
def test_a_wrong_token_gets_the_form_again(hub: HubUnderTest, token: str, status: int, message: str) -> None:
    client = _client(hub)
    response = sign_in(client, hub.tokens.get(token, token))
    assert response.status_code == status
    assert message in response.text
    assert "tipshare_session" not in _set_cookies(response)
    assert client.get("/trends").status_code == 303


def test_sign_in_needs_the_forms_csrf_token(hub: HubUnderTest) -> None:
    client = _client(hub)
    token = hub.tokens["coordinator"]
    client.get("/login")
    missing = client.post("/login", data={"token": token})
    assert missing.status_code == 400
    assert "expired" in missing.text
    other = _client(hub)
    forged = client.post("/login", data={"token": token, "csrf": _csrf(other.get("/login").text)})
    assert forged.status_code == 400  # a token from another browser's form
    fresh = _client(hub)
    no_cookie = fresh.post("/login", data={"token": token, "csrf": _csrf(client.get("/login").text)})
    assert no_cookie.status_code == 400
    assert all("tipshare_session" not in _set_cookies(r) for r in (missing, forged, no_cookie))


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}],
)
def test_cross_origin_form_posts_are_refused(hub: HubUnderTest, headers: dict[str, str]) -> None:
    client = _client(hub)
    form = client.get("/login")
    data = {"token": hub.tokens["coordinator"], "csrf": _csrf(form.text)}
    response = client.post("/login", data=data, headers=headers)
    assert response.status_code == 403
    assert "tipshare_session" not in _set_cookies(response)
    data["csrf"] = _csrf(response.text)  # the refusal showed a fresh form
    same_site = client.post(
        "/login", data=data, headers={"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
    )
    assert same_site.status_code == 303


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/corridors?top=15&country=UA", "/corridors?top=15&country=UA"),
        ("/completeness", "/completeness"),
        (None, "/trends"),
        ("//evil.example/trends", "/trends"),
        ("https://evil.example/trends", "/trends"),
        ("/\\evil.example", "/trends"),
        ("/trends//evil", "/trends"),
        ("/v1/admin/tokens", "/trends"),
        ("/login", "/trends"),
    ],
)
def test_after_sign_in_only_dashboard_views_are_destinations(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


# ---------------------------------------------------------------------------------------------- the session


def test_revoking_the_token_ends_the_session_at_once(hub: HubUnderTest) -> None:
    token_id, token = _token(hub)
    client = _client(hub)
    sign_in(client, token)
    assert client.get("/trends").status_code == 200
    revoked = hub.client.post(f"/v1/admin/tokens/{token_id}/revoke", headers=hub.auth("admin"))
    assert revoked.status_code == 200, revoked.text
    response = client.get("/trends")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Ftrends"


def test_the_session_ends_when_the_token_expires(hub: HubUnderTest) -> None:
    _, token = _token(hub, expires_in=timedelta(hours=1))
    client = _client(hub)
    sign_in(client, token)
    assert client.get("/demography").status_code == 200
    hub.clock.advance(hours=1)
    assert client.get("/demography").status_code == 303


def test_a_token_ends_at_the_same_instant_for_the_api_and_the_dashboard(hub: HubUnderTest) -> None:
    """One validity rule (:func:`hub.services.tokens.token_status`) decides for bearer requests and sessions."""
    _, token = _token(hub, expires_in=timedelta(hours=1))
    client = _client(hub)
    sign_in(client, token)
    bearer = {"Authorization": f"Bearer {token}"}
    hub.clock.advance(seconds=3599)
    assert client.get("/demography").status_code == 200
    assert hub.client.get("/v1/audit/access-log", headers=bearer).status_code == 403  # known, valid: wrong role
    hub.clock.advance(seconds=1)  # expires_at itself: no longer valid, on either path
    assert client.get("/demography").status_code == 303
    assert hub.client.get("/v1/audit/access-log", headers=bearer).status_code == 401


def test_the_session_ends_after_its_lifetime(hub: HubUnderTest) -> None:
    client = _client(hub)
    sign_in(client, hub.tokens["coordinator"])
    hub.clock.advance(seconds=SESSION_LIFETIME.total_seconds() - 1)
    assert client.get("/trends").status_code == 200
    hub.clock.advance(seconds=1)
    assert client.get("/trends").status_code == 303


def test_tampered_and_foreign_cookies_are_refused(hub: HubUnderTest) -> None:
    client = _client(hub)
    sign_in(client, hub.tokens["coordinator"])
    value = client.cookies["tipshare_session"]
    payload, mac = value.split(".")
    other_id, _ = _token(hub)
    foreign, _ = SessionCookies(bytes(32)).issue_session(token_id=1, token_hash="0" * 64, now=hub.clock())
    secret = load_or_create_session_secret(hub.context.settings.keys_dir)
    relabelled, _ = SessionCookies(secret).issue_session(token_id=other_id, token_hash="f" * 64, now=hub.clock())
    for bad in (
        payload + "." + mac[:-2] + ("AA" if not mac.endswith("AA") else "BB"),
        payload[:-1] + "." + mac,
        foreign,
        relabelled,  # signed by this hub, but for another token's hash
        "garbage",
        value + "." + mac,
    ):
        fresh = _client(hub)
        fresh.cookies.set("tipshare_session", bad)
        assert fresh.get("/trends").status_code == 303, bad


def test_sign_out_needs_the_csrf_token_and_clears_the_cookie(hub: HubUnderTest) -> None:
    client = _client(hub)
    sign_in(client, hub.tokens["coordinator"])
    page = client.get("/completeness")
    assert client.post("/logout", data={"csrf": "wrong"}).status_code == 400
    assert client.get("/completeness").status_code == 200  # still signed in
    response = client.post("/logout", data={"csrf": _csrf(page.text)})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    cleared = _set_cookies(response)["tipshare_session"]["tipshare_session"]
    assert cleared.value == ""
    assert cleared["max-age"] == "0"
    assert client.get("/completeness").status_code == 303


def test_signing_out_without_a_session_goes_to_sign_in(hub: HubUnderTest) -> None:
    response = _client(hub).post("/logout", data={"csrf": "x"})
    assert response.status_code == 303
    assert response.headers["location"] == "/login"


# ---------------------------------------------------------------------------------------------- pages


def test_pages_carry_a_strict_csp_and_no_inline_script(hub: HubUnderTest) -> None:
    client = _client(hub)
    sign_in(client, hub.tokens["coordinator"])
    for path in ["/login", *VIEWS]:
        response = client.get(path)
        assert response.status_code in (200, 303), path
        if response.status_code != 200:
            continue
        policy = response.headers["content-security-policy"]
        assert "default-src 'none'" in policy
        assert "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "form-action 'self'" in policy
        assert "unsafe-inline" not in policy
        assert "unsafe-eval" not in policy
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["cache-control"] == "no-store"
        for tag in re.findall(r"<script[^>]*>", response.text):
            assert " src=" in tag or 'type="application/json"' in tag, tag
        assert " style=" not in response.text
        assert "<style" not in response.text
        assert "http://" not in response.text.replace("http://testserver", "")
        assert "https://" not in response.text


def test_html_from_the_database_is_escaped(hub: HubUnderTest) -> None:
    hub.enroll("xss-line", "UA", name='<script>alert("x")</script>')
    client = _client(hub)
    sign_in(client, hub.tokens["coordinator"])
    page = client.get("/completeness")
    assert page.status_code == 200
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text


def test_a_token_limited_to_countries_chooses_among_them_only(hub: HubUnderTest) -> None:
    hub.enroll("md-line", "MD")
    hub.enroll("ua-line", "UA")
    _, token = _token(hub, countries=frozenset({"MD"}))
    client = _client(hub)
    sign_in(client, token)
    page = client.get("/trends")
    assert page.status_code == 200
    start = page.text.index('<select id="country"')
    picker = page.text[start : page.text.index("</select>", start)]  # (citizenship filters list every country)
    assert '<option value="MD">Moldova</option>' in picker
    assert 'value="UA"' not in picker
    refused = client.get("/trends", params={"country": "UA"})
    assert refused.status_code == 403
    assert "MD only" in refused.text


def test_static_assets_are_served_from_the_hub(hub: HubUnderTest) -> None:
    for path in ("/static/dashboard.js", "/static/dashboard.css", "/static/vendor/uplot/uPlot.iife.min.js"):
        response = hub.client.get(path)
        assert response.status_code == 200, path
        assert response.headers["x-content-type-options"] == "nosniff"


def test_the_vendored_chart_library_is_the_recorded_release() -> None:
    vendor = STATIC_DIR / "vendor" / "uplot"
    readme = (vendor / "README.md").read_text(encoding="utf-8")
    recorded = dict(re.findall(r"\| `([^`]+)` \| `[^`]+` \| `([0-9a-f]{64})` \|", readme))
    assert set(recorded) == {"uPlot.iife.min.js", "uPlot.min.css"}
    for name, digest in recorded.items():
        assert hashlib.sha256((vendor / name).read_bytes()).hexdigest() == digest, name
    assert "(v1.6.32)" in (vendor / "uPlot.iife.min.js").read_text(encoding="utf-8")[:80]
    assert "MIT License" in (vendor / "LICENSE").read_text(encoding="utf-8")


# ---------------------------------------------------------------------------------------------- the secret


def test_the_session_secret_is_private_and_survives_restarts(hub: HubUnderTest) -> None:
    path = hub.context.settings.keys_dir / SESSION_SECRET_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    client = _client(hub)
    sign_in(client, hub.tokens["coordinator"])
    restarted = TestClient(create_app(context=hub.context), follow_redirects=False)
    restarted.cookies.set("tipshare_session", client.cookies["tipshare_session"])
    assert restarted.get("/trends").status_code == 200
    assert [p.name for p in path.parent.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_an_unsafe_session_secret_is_refused(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    secret = load_or_create_session_secret(keys)
    assert load_or_create_session_secret(keys) == secret
    assert len(secret) == 32
    os.chmod(keys / SESSION_SECRET_FILE, 0o644)
    with pytest.raises(SessionSecretError, match="readable by other users"):
        load_or_create_session_secret(keys)
    os.chmod(keys / SESSION_SECRET_FILE, 0o600)
    (keys / SESSION_SECRET_FILE).write_text("c2hvcnQ=\n")
    with pytest.raises(SessionSecretError, match="32 bytes"):
        load_or_create_session_secret(keys)


def test_init_makes_the_session_secret_with_the_keys(tmp_path: Path) -> None:
    for hub in start_hub(tmp_path / "hub"):
        keys = hub.context.settings.keys_dir
        assert sorted(p.name for p in keys.iterdir()) == ["envelope.x25519", "log.ed25519", SESSION_SECRET_FILE]


def test_an_existing_secret_is_read_without_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "keys"
    secret = load_or_create_session_secret(keys)

    def refuse(path: Path) -> None:
        raise PermissionError(13, "Read-only file system", str(path))

    monkeypatch.setattr("hub.dashboard.secret._create", refuse)  # a read-only keys mount
    assert load_or_create_session_secret(keys) == secret


def test_a_missing_secret_that_cannot_be_made_says_what_to_do(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    with pytest.raises(SessionSecretError, match=r"cannot be created .*tipshare-hub init.*same file"):
        load_or_create_session_secret(not_a_directory / "keys")
