"""Secret shapes a GET can still return and that flaudit/redact.py must strip (gaps found while collecting)."""

from flaudit.redact import REDACTED, redact


def test_service_bus_style_shared_access_key_connection_strings_are_redacted():
    value = "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=send;SharedAccessKey=Zm9vYmFyYmF6cXV4"
    assert redact({"properties": {"note": value}}) == {"properties": {"note": REDACTED}}


def test_a_shared_access_key_name_alone_is_not_a_secret():
    assert redact({"keyName": "SharedAccessKeyName=send"}) == {"keyName": "SharedAccessKeyName=send"}
