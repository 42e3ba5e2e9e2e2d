"""What the parser property tests share: random JSON values, and running a parser on a body
where refusing it (ParseError, SchemaError) is fine and anything parsed must be well-formed."""

from collections.abc import Callable
from datetime import timedelta

from hypothesis import strategies as st

from app.core.alert import ParsedAlert
from app.ingest.base import ParseError, SchemaError

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["", "0", "²", "1e400", "firing", "resolved", "ALARM", "OK", "Sev0"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


def parse_or_refuse(parse: Callable[[bytes], object], body: bytes) -> list[ParsedAlert]:
    """The alerts `parse` made of `body`, each checked well-formed; [] when it refused it.

    Any other exception propagates: at the webhook it would be a 500.
    """
    try:
        result = parse(body)
    except (ParseError, SchemaError):
        return []
    # Alert parsers answer a list of alerts; the SNS envelope and routing-key readers do not.
    alerts: list[ParsedAlert] = result if isinstance(result, list) else []
    for alert in alerts:
        _check_well_formed(alert)
    return alerts


def _check_well_formed(alert: ParsedAlert) -> None:
    assert alert.dedup_key.startswith((f"{alert.source}:", "grafana-legacy:"))
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in alert.labels.items())
    for moment in (alert.started_at, alert.ended_at):
        assert moment is None or moment.utcoffset() == timedelta(0)
    for url in (alert.source_url, alert.runbook_url):
        assert url is None or url.lower().startswith(("http://", "https://"))
