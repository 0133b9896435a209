"""Hostile input: hypothesis strategies for WebSocket commands and HTTP bodies, and the profile that keeps them fast.

The profile's example counts are moderate because these tests run in both CI passes through the
real ASGI application; HYPOTHESIS_HOSTILE_PROFILE=hostile-deep digs further by hand.
"""

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from gamification.catalogue import TOPICS
from gamification.consumers import GamificationConsumer

settings.register_profile(
    "hostile",
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile("hostile-deep", parent=settings.get_profile("hostile"), max_examples=1000)
FUZZ = settings(settings.get_profile(os.environ.get("HYPOTHESIS_HOSTILE_PROFILE", "hostile")))

COMMANDS = sorted(GamificationConsumer.commands)
KNOWN_COUNCILOR = "fuzz-target"  # the tests create it, so control commands reach the services too

# Any JSON value, nested a little: what a hostile client can put anywhere.
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)

# Field values that are nearly right: the types a command expects, and the edge cases around them.
nearly = st.one_of(
    json_values,
    st.sampled_from(sorted(TOPICS)),
    st.lists(st.sampled_from(sorted(TOPICS)) | st.text(max_size=12), max_size=6),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=60),  # NUL, surrogates' neighbours, RTL...
    st.integers(min_value=-1, max_value=2**63),
)

commands = st.fixed_dictionaries(
    {"command": st.sampled_from(COMMANDS) | st.text(max_size=20) | json_values},
    optional={
        "topics": nearly,
        "since": nearly,
        "councilor_id": nearly | st.just(KNOWN_COUNCILOR),
        "request_id": nearly,
        **{st_key: json_values for st_key in ("data", "type", "extra")},
    },
)

ws_text = st.one_of(
    commands.map(lambda command: ("json", command)),
    json_values.map(lambda value: ("json", value)),
    st.text(max_size=200).map(lambda text: ("text", text)),
    st.binary(max_size=200).map(lambda blob: ("bytes", blob)),
)
