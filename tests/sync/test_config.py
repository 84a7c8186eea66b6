"""Config files: validation with file:line:col, secrets from env or files, relative paths."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from connectors.transport import LoopbackAdapter, is_loopback_origin
from sync.core.config import Secret, load_config
from sync.core.errors import ConfigFileError

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = """\
salesforce:
  instance_url: https://acme.my.salesforce.com
zendesk:
  subdomain: acme
rules: rules.yaml
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "nps-sync.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_config_is_valid() -> None:
    config = load_config(ROOT / "config.example.yaml")
    assert config.salesforce.fields.task_marker == "NPS_Sync_Key__c"
    assert config.rules == ROOT / "rules/examples/default.yaml"


def test_routing_acts_on_two_weeks_unless_told_otherwise(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, MINIMAL)).routing.act_on_responses_newer_than == (
        timedelta(days=14)
    )
    longer = load_config(
        write(tmp_path, MINIMAL + "routing:\n  act_on_responses_newer_than: 400d\n")
    )
    assert longer.routing.act_on_responses_newer_than == timedelta(days=400)
    with pytest.raises(ConfigFileError) as info:
        load_config(write(tmp_path, MINIMAL + "routing:\n  act_on_responses_newer_than: 3651d\n"))
    assert "duration '3651d' is longer than 3650d" in str(info.value)


def test_relative_paths_follow_the_config_file(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL + "state:\n  url: sqlite:///state.db\n"))
    assert config.rules == tmp_path / "rules.yaml"
    assert config.state.url == f"sqlite:///{tmp_path / 'state.db'}"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("colour: blue\n", "nps-sync.yaml:6:1: unknown key 'colour'"),
        (
            "schedule:\n  poll_interval_seconds: 1\n",
            "nps-sync.yaml:7:26: schedule.poll_interval_seconds: must be at least 10, got 1",
        ),
        (
            "loopback_routes:\n  https://x.example: http://10.0.0.1:80\n",
            "nps-sync.yaml:7:3: loopback_routes: may only point at a loopback origin such as "
            "http://127.0.0.1:8080, not http://10.0.0.1:80",
        ),
        ("state:\n  url: mysql://root@localhost/x\n", "nps-sync.yaml:7:8: state.url: not a "
         "supported state database URL (scheme 'mysql'): use sqlite:///path/to/state.db or "
         "postgresql+psycopg://user@host:5432/dbname"),
        ("state:\n  url: garbage\n", "state.url: not a supported state database URL"),
        ("webhooks:\n  listen: '0.0.0.0:99999'\n", "webhooks.listen: '0.0.0.0:99999': a port is"),
        ("email:\n  host: smtp.acme.com\n  port: 99999\n  sender: nps@acme.com\n",
         "email.port: must be at most 65535"),
        ("email:\n  host: smtp.acme.com\n  sender: nope\n",
         "email.sender: not an email address: 'nope'"),
        ("state:\n  url: 'sqlite://'\n", "state.url: an SQLite state needs a file"),
        ("state:\n  url: 'sqlite:///:memory:'\n", "state.url: an SQLite state needs a file"),
        ("schedule:\n  reconcile_cron: '0 3 * * 0'\n",
         "schedule.reconcile_cron: write the weekday by name, not '0'"),
    ],
)  # fmt: skip
def test_errors_name_file_line_and_column(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(ConfigFileError) as info:
        load_config(write(tmp_path, MINIMAL + extra))
    assert message in str(info.value)


def test_yaml_syntax_errors_have_a_position(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigFileError, match=r"nps-sync.yaml:3:1: invalid YAML: expected .,. or .\]."
    ):
        load_config(write(tmp_path, "salesforce:\n  instance_url: [unclosed\n"))


def test_secrets_come_from_env_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NPS_TEST_SECRET", "s3cret")
    assert Secret(env="NPS_TEST_SECRET").resolve("x") == "s3cret"
    secret_file = tmp_path / "token"
    secret_file.write_text("from-file\n", encoding="utf-8")
    assert Secret(file=secret_file).resolve("x") == "from-file"
    monkeypatch.delenv("NPS_TEST_SECRET")
    with pytest.raises(ConfigFileError, match="NPS_TEST_SECRET is not set"):
        Secret(env="NPS_TEST_SECRET").resolve("salesforce.auth.password")
    assert "s3cret" not in repr(Secret(env="NPS_TEST_SECRET"))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("token\n", "token"),
        ("  token  \r\n\n", "token"),
        ("-----BEGIN PRIVATE KEY-----\nMIIE\nabc\n-----END PRIVATE KEY-----\n",
         "-----BEGIN PRIVATE KEY-----\nMIIE\nabc\n-----END PRIVATE KEY-----"),
    ],
)  # fmt: skip
def test_a_secret_file_is_read_whole_without_surrounding_whitespace(
    tmp_path: Path, content: str, expected: str
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(content, encoding="utf-8")
    assert Secret(file=secret_file).resolve("x") == expected


@pytest.mark.parametrize(
    ("content", "reason"),
    [("", "is empty"), ("\n  \n", "is empty"), ("x" * 70_000, "is larger than 64 KiB")],
)
def test_an_empty_or_oversized_secret_file_is_a_config_error(
    tmp_path: Path, content: str, reason: str
) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigFileError, match=f"salesforce.auth.password: {secret_file} {reason}"):
        Secret(file=secret_file).resolve("salesforce.auth.password")


@pytest.mark.parametrize(
    ("target", "allowed"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://127.9.9.9", True),
        ("http://localhost:1", True),
        ("http://[::1]:8080", True),
        ("http://localhost@evil.example:80", False),
        ("http://127.0.0.1@evil.example", False),
        ("http://127.0.0.1.evil.example:80", False),
        ("http://localhost.evil.example", False),
        ("https://127.0.0.1:8080", False),
        ("http://10.0.0.1:8080", False),
        ("http://127.0.0.1:8080/path", False),
        ("http://127.0.0.1:notaport", False),
        ("http://user:pw@127.0.0.1:8080", False),
    ],
)
def test_loopback_routes_are_parsed_not_prefix_matched(target: str, allowed: bool) -> None:
    assert is_loopback_origin(target) is allowed
    if not allowed:
        with pytest.raises(ValueError, match="not a loopback origin"):
            LoopbackAdapter(target)


def test_a_plain_postgresql_url_means_psycopg_3(tmp_path: Path) -> None:
    text = MINIMAL + "state:\n  url: postgresql://nps@db.internal:5432/nps\n"
    assert load_config(write(tmp_path, text)).state.url == (
        "postgresql+psycopg://nps@db.internal:5432/nps"
    )


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ("zendesk", "subdomain: acme.zendesk.com",
         "zendesk.subdomain: write only the subdomain, 'acme' for https://acme.zendesk.com"),
        ("zendesk", "subdomain: 'https://acme.zendesk.com'", "write only the subdomain, 'acme'"),
        ("zendesk", "subdomain: ''", "write only the subdomain"),
        ("salesforce", "instance_url: not a url", "salesforce.instance_url: not the org's address"),
        ("salesforce", "instance_url: ftp://acme.my.salesforce.com", "not the org's address"),
        ("salesforce", "instance_url: 'https://'", "not the org's address"),
        ("salesforce", "instance_url: https://acme.my.salesforce.com/lightning/page",
         "not the org's address"),
        ("salesforce", "instance_url: https://admin:Hunter2@acme.my.salesforce.com",
         "no user or password in instance_url"),
    ],
)  # fmt: skip
def test_endpoints_are_an_account_name_and_an_origin(
    tmp_path: Path, section: str, value: str, message: str
) -> None:
    key = value.split(":")[0]
    lines = [
        f"  {value}" if line.startswith(f"  {key}:") else line for line in MINIMAL.splitlines()
    ]
    with pytest.raises(ConfigFileError) as info:
        load_config(write(tmp_path, "\n".join(lines) + "\n"))
    assert message in str(info.value)
    assert "Hunter2" not in str(info.value)


def test_one_file_listed_as_two_sources_is_refused(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    text = MINIMAL + (
        "sources:\n"
        "  - {type: file, name: one, path: exports/answers.csv}\n"
        "  - {type: file, name: two, path: ./exports/../exports/answers.csv}\n"
    )
    with pytest.raises(ConfigFileError) as info:
        load_config(write(tmp_path, text))
    assert "nps-sync.yaml:8:35: sources[1].path" in str(info.value)
    assert "sources[1].path: the same file as sources[0]" in str(info.value)


@pytest.mark.parametrize(
    ("key", "template", "problem"),
    [
        ("zendesk.tickets", "{{ foo.bar }}", "'foo' is undefined"),
        ("zendesk.tickets", "{{ ''.__class__.__mro__ }}", "unsafe"),
        ("salesforce.tasks", "{{ history[0].nothing.deeper }}", "has no attribute 'nothing'"),
        ("salesforce.tasks", "{{ account.name }}: {{ history | length }} answers", None),
        ("zendesk.tickets", "{% for t in requester.open_ticket_list %}#{{ t.id }}{% endfor %}",
         None),
    ],
)  # fmt: skip
def test_a_context_template_is_rendered_on_sample_values_before_a_pass(
    tmp_path: Path, key: str, template: str, problem: str | None
) -> None:
    from sync.app.runtime import require_context_templates

    section, sub = key.split(".")
    text = MINIMAL.replace(
        f"{section}:\n", f"{section}:\n  {sub}:\n    context_template: {json.dumps(template)}\n"
    )
    config = load_config(write(tmp_path, text))
    if problem is None:
        require_context_templates(config)
        return
    with pytest.raises(ConfigFileError) as info:
        require_context_templates(config)
    assert f"{key}.context_template: fails on sample values: " in str(info.value)
    assert problem in str(info.value)


def test_the_default_context_blocks_render_on_sample_values(tmp_path: Path) -> None:
    from sync.app.runtime import require_context_templates

    require_context_templates(load_config(write(tmp_path, MINIMAL)))
