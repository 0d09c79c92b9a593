"""Every route in the URL conf, fed hypothesis-generated path parameters, query strings,
headers and bodies, as an anonymous visitor and as a logged-in user: never a 5xx.

The one 5xx allowed is a 503 that says a service is not configured or unreachable (Stripe
keys unset in tests, say). Examples per route are bounded (FUZZ_EXAMPLES) to keep CI fast.
"""

from __future__ import annotations

import os
import re
from urllib.parse import quote, urlencode

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.broker import BrokerQueue

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
HOSTILE = st.sampled_from(
    ["²", "①", "1²", "-1", "0", "9" * 30, "", " ", "%00", "é", "../..", "a" * 300, "1e9",
     "null", "[]", "{}", "<script>", "'", '"', "\x00", "2024-13-45", "2024-02", "true"]
)
TEXT = st.one_of(HOSTILE, st.text(max_size=40))
QUERY_KEYS = ["purchase", "page", "days", "month", "account_id", "search", "mode", "status",
              "date", "cluster", "format", "next", "q", "o", "p", "_changelist_filters"]


def _routes(patterns=None, prefix: tuple = ()) -> list[tuple]:
    found = []
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            found += _routes(p.url_patterns, (*prefix, p.pattern))
        elif isinstance(p, URLPattern):
            found.append((*prefix, p.pattern))
    return found


def _route_id(parts) -> str:
    return "".join(str(p) for p in parts) or "/"


ROUTES = _routes()


def _segment(pattern):
    """A strategy for the URL text one pattern matches, parameters generated."""
    if isinstance(pattern, RoutePattern):
        route, pieces, pos = str(pattern), [], 0
        for match in re.finditer(r"<(?:(\w+):)?(\w+)>", route):
            pieces.append(st.just(route[pos:match.start()]))
            pieces.append(_param(match.group(1) or "str"))
            pos = match.end()
        pieces.append(st.just(route[pos:]))
        return st.tuples(*pieces).map("".join)
    regex = pattern.regex.pattern
    return st.from_regex(regex, fullmatch=True).map(lambda s: quote(s, safe="/"))


def _param(converter: str):
    if converter == "int":
        return st.one_of(st.integers(0, 10**20), st.just(2**63)).map(str)
    if converter == "uuid":
        return st.uuids().map(str)
    return TEXT.filter(bool).map(lambda s: quote(s, safe=""))


def _path(parts):
    return st.tuples(*[_segment(p) for p in parts]).map(lambda segs: "/" + "".join(segs))


BODIES = st.one_of(
    st.binary(max_size=200),
    st.dictionaries(st.sampled_from(["amount", "account_id", "action", "date", "cluster",
                                     "user_id", "email", "reason", "idempotency_key", "id",
                                     "type", "data"]),
                    st.one_of(TEXT, st.integers(), st.none(), st.booleans()), max_size=5)
    .map(lambda d: __import__("json").dumps(d).encode()),
)
HEADERS = st.dictionaries(
    st.sampled_from(["HTTP_STRIPE_SIGNATURE", "HTTP_AUTHORIZATION", "HTTP_X_SIGNATURE",
                     "HTTP_X_SIGNATURE_TIMESTAMP", "HTTP_ACCEPT", "HTTP_X_FORWARDED_FOR",
                     "HTTP_RANGE", "HTTP_IF_MODIFIED_SINCE"]),
    st.one_of(TEXT, st.just("Bearer dev-cron-secret"), st.just("t=1,v1=²")).map(
        lambda s: s.replace("\x00", "").replace("\n", "")
    ),
    max_size=3,
)


@pytest.fixture
def fuzz_env(settings, db):
    from accounts.models import User

    owner = User.objects.create_user("fuzz@example.com", None)  # no password hashing: fast
    settings.STRIPE_WEBHOOK_SECRET = "whsec_fuzz"
    settings.AUTH0_WEBHOOK_SECRET = "auth0-fuzz"
    settings.AXES_ENABLED = True
    queue = BrokerQueue(settings.CELERY_BROKER_URL)
    yield owner
    queue.clear()  # the cron doors may have queued tasks no worker will run


def _allowed(response) -> bool:
    if response.status_code < 500:
        return True
    text = response.content.decode("utf-8", "replace").lower()
    return response.status_code == 503 and ("not configured" in text or "unreachable" in text)


@pytest.mark.django_db
@pytest.mark.parametrize("route", ROUTES, ids=[_route_id(r) for r in ROUTES])
def test_no_route_answers_a_server_error(route, fuzz_env):
    owner = fuzz_env

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        path=_path(route),
        method=st.sampled_from(["get", "post", "put", "delete"]),
        query=st.dictionaries(st.one_of(st.sampled_from(QUERY_KEYS), TEXT), TEXT, max_size=3),
        headers=HEADERS,
        body=BODIES,
        logged_in=st.booleans(),
        content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded",
                                      "text/plain"]),
    )
    def request_once(path, method, query, headers, body, logged_in, content_type):
        client = Client(raise_request_exception=False)
        if logged_in:
            client.force_login(owner)
        url = f"{path}?{urlencode(query)}" if query else path
        call = getattr(client, method)
        if method == "get":
            response = call(url, **headers)
        else:
            response = call(url, data=body, content_type=content_type, **headers)
        assert _allowed(response), (method.upper(), url, headers, body, response.status_code)

    request_once()
