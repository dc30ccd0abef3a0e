"""[[sources]] of kind xero and quickbooks: the issue's key names, one-line errors."""

from __future__ import annotations

import pytest

from sync.api_sources import client_secret
from sync.config import load_settings
from sync.errors import ConfigError, SourceError

XERO = """
[[sources]]
name = "xero"
kind = "xero"
client_id = "abc"
client_secret_env = "XERO_CLIENT_SECRET"
tenant_id = "t-1"
api_url = ""
token_url = ""
schedule = "every 15 minutes"
"""


def _load(tmp_path, text):
    path = tmp_path / "billfold.toml"
    path.write_text(text)
    return load_settings(path, env={})


def test_the_issue_configuration_loads(tmp_path):
    text = XERO + '\n[[sources]]\nname = "qbo"\nkind = "quickbooks"\nclient_id = "q"\n'
    text += 'client_secret_file = "qbo.secret"\n'
    settings = _load(tmp_path, text)
    xero, qbo = settings.sources
    assert (xero.kind, xero.client_id, xero.tenant_id) == ("xero", "abc", "t-1")
    assert xero.location == "https://api.xero.com/api.xro/2.0"
    assert xero.effective_schedule == "every 15 minutes"
    assert qbo.token_endpoint.startswith("https://oauth.platform.intuit.com/")
    (tmp_path / "qbo.secret").write_text("s3cr3t\n")
    assert client_secret(qbo, "qbo", tmp_path) == "s3cr3t"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('client_id = "abc"', "", r"sources\[0\] \('xero'\)\.client_id .* is required"),
        (
            'client_secret_env = "XERO_CLIENT_SECRET"',
            "",
            r"\.client_secret_env .* exactly one",
        ),
        (
            'tenant_id = "t-1"',
            'client_secret_file = "x"',
            r"\.client_secret_env .* exactly one",
        ),
        (
            'api_url = ""',
            'api_url = "ftp://example"',
            r"\.api_url .* must be an http\(s\) URL",
        ),
        ('tenant_id = "t-1"', 'takes_over = "nope"', r"\.takes_over .* names 'nope'"),
        ('tenant_id = "t-1"', 'realm_id = "r"', r"\.realm_id .* is for quickbooks"),
    ],
    ids=["no-client-id", "no-secret", "two-secrets", "bad-url", "takes-over", "realm"],
)
def test_bad_api_settings_name_the_key(tmp_path, old, new, message):
    with pytest.raises(ConfigError, match=message) as err:
        _load(tmp_path, XERO.replace(old, new))
    assert "\n" not in str(err.value)


def test_api_keys_on_a_folder_source_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"\.client_id .* only for kind"):
        _load(tmp_path, '[[sources]]\nname = "f"\npath = "in"\nclient_id = "x"\n')


def test_a_missing_secret_says_which_variable(monkeypatch, tmp_path):
    source = _load(tmp_path, XERO).sources[0]
    monkeypatch.delenv("XERO_CLIENT_SECRET", raising=False)
    with pytest.raises(SourceError, match="XERO_CLIENT_SECRET .* is not set"):
        client_secret(source, "xero", tmp_path)
