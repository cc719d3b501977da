"""Unit tests of orq_mcp/config/settings.py: environment variables, flags over them, and the rules between them."""

from __future__ import annotations

import re

import pytest

from orq_mcp.cli.options import build_parser
from orq_mcp.config.keys import stand_in_advice
from orq_mcp.config.settings import (
    FLAGGED,
    MAKE_A_TOKEN,
    MIN_AUTH_TOKEN_CHARS,
    Settings,
    SettingsError,
    is_loopback,
)

# Looks like a credential: it must never be echoed by an error message.
SECRET = "sk-orq-secret-9d1e7a33c0b24f6e"
TOKEN = "t" * MIN_AUTH_TOKEN_CHARS


def cli_accepts(flag: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", build_parser().format_help()) is not None


def refusal(env: dict[str, str], **flags: object) -> str:
    with pytest.raises(SettingsError) as caught:
        Settings.load(env, **flags)
    return str(caught.value)


# -- loading ----------------------------------------------------------------------------------------------------


def test_environment_variables_are_loaded() -> None:
    settings = Settings.load(
        {
            "ORQ_API_KEY": SECRET,
            "ORQ_MCP_TRANSPORT": "http",
            "ORQ_MCP_PORT": "9001",
            "ORQ_TIMEOUT": "12.5",
            "ORQ_MCP_READ_ONLY": "true",
        }
    )
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == SECRET
    assert settings.transport == "http"
    assert settings.port == 9001
    assert settings.read_timeout == 12.5
    assert settings.read_only is True


def test_defaults_without_any_variable() -> None:
    settings = Settings.load({})
    assert settings.api_key is None
    assert settings.transport == "stdio"
    assert (settings.host, settings.port) == ("127.0.0.1", 8000)


def test_a_flag_overrides_its_variable() -> None:
    settings = Settings.load({"ORQ_MCP_PORT": "9001", "ORQ_MCP_TRANSPORT": "sse"}, port=9002, transport="http")
    assert settings.port == 9002
    assert settings.transport == "http"


def test_a_flag_left_as_none_does_not_override() -> None:
    assert Settings.load({"ORQ_MCP_PORT": "9001"}, port=None).port == 9001


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
def test_a_blank_variable_is_ignored(blank: str) -> None:
    settings = Settings.load({"ORQ_MCP_PORT": blank, "ORQ_BASE_URL": blank, "ORQ_API_KEY": blank})
    assert settings.port == 8000
    assert settings.base_url == "https://api.orq.ai"
    assert settings.api_key is None


def test_a_value_with_spaces_around_it_is_read() -> None:
    assert Settings.load({"ORQ_MCP_PORT": " 8080 "}).port == 8080


def test_variables_it_does_not_know_are_ignored() -> None:
    assert Settings.load({"ORQ_MCP_PORTS": "1", "PORT": "2"}).port == 8000


def test_comma_lists_are_split_trimmed_and_emptied_of_blanks() -> None:
    settings = Settings.load(
        {"ORQ_MCP_ALLOWED_HOSTS": " a.example, ,b.example ,", "ORQ_DEPLOYMENTS": "one, two,one", "ORQ_EXPOSE": "one"}
    )
    assert settings.allowed_hosts == ("a.example", "b.example")
    assert settings.deployments == frozenset({"one", "two"})
    assert settings.expose == ("one",)


def test_a_comma_list_flag_is_split_like_its_variable() -> None:
    assert Settings.load({}, expose="a,b").expose == ("a", "b")


def test_expose_all_exposes_every_key() -> None:
    settings = Settings.load({"ORQ_EXPOSE": "all"})
    assert settings.exposes("anything")
    assert not Settings.load({"ORQ_EXPOSE": "one"}).exposes("two")


def test_a_deployments_list_of_only_commas_is_refused() -> None:
    message = refusal({"ORQ_DEPLOYMENTS": " , "})
    assert "ORQ_DEPLOYMENTS" in message
    assert "at least one deployment key" in message


def test_a_pasted_key_loses_the_whitespace_around_it() -> None:
    settings = Settings.load({"ORQ_API_KEY": f"  {SECRET}\n"})
    assert settings.api_key is not None
    assert settings.api_key.get_secret_value() == SECRET


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("${ORQ_API_KEY}", "unexpanded variable reference"),
        ("%ORQ_API_KEY%", "unexpanded variable reference"),
        ("<your key>", "example placeholder"),
        ("YOUR_ORQ_API_KEY", "example placeholder"),
    ],
)
def test_a_key_that_stands_for_a_key_counts_as_no_key_and_says_which(key: str, says: str) -> None:
    settings = Settings.load({"ORQ_API_KEY": key})
    assert settings.api_key is None
    assert settings.api_key_stand_in is not None
    assert says in settings.api_key_stand_in
    assert key not in settings.api_key_stand_in + stand_in_advice(settings.api_key_stand_in)


def test_a_key_in_angle_brackets_is_never_kept_nor_repeated() -> None:
    settings = Settings.load({"ORQ_API_KEY": f"<{SECRET}>"})
    assert settings.api_key is None
    assert SECRET[:12] not in repr(settings) + str(settings.model_dump())


# -- listening address ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"])
def test_loopback_hosts_need_no_allow_remote(host: str) -> None:
    assert is_loopback(host)
    assert Settings.load({"ORQ_MCP_TRANSPORT": "http", "ORQ_MCP_HOST": host}).host == host


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.com", "localhost.example.com"])
def test_other_hosts_are_refused_without_allow_remote(host: str) -> None:
    assert not is_loopback(host)
    message = refusal({"ORQ_MCP_TRANSPORT": "http", "ORQ_MCP_HOST": host})
    assert "--allow-remote" in message
    assert "ORQ_MCP_AUTH_TOKEN" in message


def test_allow_remote_as_a_flag_permits_any_host() -> None:
    assert Settings.load({"ORQ_MCP_TRANSPORT": "sse", "ORQ_MCP_HOST": "0.0.0.0"}, allow_remote=True).allow_remote


def test_allow_remote_as_a_variable_permits_any_host() -> None:
    env = {"ORQ_MCP_TRANSPORT": "http", "ORQ_MCP_HOST": "0.0.0.0", "ORQ_MCP_ALLOW_REMOTE": "1"}
    assert Settings.load(env).host == "0.0.0.0"


def test_stdio_does_not_care_about_the_host() -> None:
    assert Settings.load({"ORQ_MCP_HOST": "0.0.0.0"}).transport == "stdio"


# -- rules between settings -------------------------------------------------------------------------------------


def test_multi_tenant_and_an_auth_token_exclude_each_other() -> None:
    message = refusal({"ORQ_MCP_TRANSPORT": "http", "ORQ_MCP_AUTH_TOKEN": TOKEN}, multi_tenant=True)
    assert "ORQ_MCP_AUTH_TOKEN and multi-tenant mode" in message
    assert TOKEN not in message


def test_multi_tenant_alone_and_an_auth_token_alone_are_accepted() -> None:
    assert Settings.load({"ORQ_MCP_TRANSPORT": "http"}, multi_tenant=True).per_caller_keys
    assert Settings.load({"ORQ_MCP_TRANSPORT": "http", "ORQ_MCP_AUTH_TOKEN": TOKEN}).auth_token is not None


@pytest.mark.parametrize("mode", ["multi_tenant", "query_config"])
def test_per_caller_keys_need_an_http_transport(mode: str) -> None:
    message = refusal({}, **{mode: True})
    assert "need --transport http" in message


def test_query_config_over_http_is_accepted() -> None:
    settings = Settings.load({"ORQ_MCP_TRANSPORT": "http", "ORQ_MCP_QUERY_CONFIG": "true"})
    assert settings.query_config
    assert settings.per_caller_keys


def test_query_config_and_multi_tenant_exclude_each_other() -> None:
    message = refusal({"ORQ_MCP_TRANSPORT": "http"}, query_config=True, multi_tenant=True)
    assert "--multi-tenant or --query-config" in message


def test_read_only_with_expose_is_refused() -> None:
    message = refusal({"ORQ_EXPOSE": "one"}, read_only=True)
    assert "--read-only" in message
    assert "--expose" in message


def test_read_only_alone_is_accepted() -> None:
    assert Settings.load({}, read_only=True).read_only


def test_several_workers_need_http() -> None:
    assert "--workers needs --transport http" in refusal({"ORQ_MCP_WORKERS": "2"})
    settings = Settings.load({"ORQ_MCP_WORKERS": "2", "ORQ_MCP_TRANSPORT": "http"})
    assert settings.sessionless


@pytest.mark.parametrize("store", ["memory", "off", "redis://localhost:6379/0"])
def test_event_stores_that_are_accepted(store: str) -> None:
    assert Settings.load({"ORQ_MCP_EVENT_STORE": store}).event_store == store


def test_an_event_store_of_another_kind_is_refused() -> None:
    assert "ORQ_MCP_EVENT_STORE" in refusal({"ORQ_MCP_EVENT_STORE": "postgres://db"})


# -- the access token -------------------------------------------------------------------------------------------


def test_an_auth_token_of_the_minimum_length_is_accepted() -> None:
    settings = Settings.load({"ORQ_MCP_AUTH_TOKEN": "a" * MIN_AUTH_TOKEN_CHARS})
    assert settings.auth_token is not None


def test_a_shorter_auth_token_is_refused_with_how_to_make_one() -> None:
    short = SECRET[: MIN_AUTH_TOKEN_CHARS - 1].ljust(MIN_AUTH_TOKEN_CHARS - 1, "x")
    message = refusal({"ORQ_MCP_AUTH_TOKEN": short})
    assert "ORQ_MCP_AUTH_TOKEN" in message
    assert f"at least {MIN_AUTH_TOKEN_CHARS} characters" in message
    assert MAKE_A_TOKEN in message
    assert short not in message


# -- error messages ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ORQ_MCP_PORT", SECRET),
        ("ORQ_MCP_TRANSPORT", SECRET),
        ("ORQ_BASE_URL", f"ftp://{SECRET}"),
        ("ORQ_TIMEOUT", SECRET),
        ("ORQ_MCP_READ_ONLY", SECRET),
        ("ORQ_MCP_EVENT_STORE", SECRET),
        ("ORQ_API_KEY", f"{SECRET} {SECRET}"),
        ("ORQ_MCP_AUTH_TOKEN", SECRET[:20]),
    ],
)
def test_an_invalid_value_is_named_by_its_variable_never_shown(variable: str, value: str) -> None:
    message = refusal({variable: value})
    assert message.startswith("Invalid configuration: ")
    assert variable in message
    assert SECRET[:12] not in message
    assert value not in message


def test_the_error_hides_pydantics_report_which_shows_the_value() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.load({"ORQ_MCP_PORT": SECRET})
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__  # no "During handling..." ValidationError, input and all, in a traceback


def test_a_setting_with_a_flag_names_both() -> None:
    assert "ORQ_MCP_PORT / --port: " in refusal({"ORQ_MCP_PORT": "x"})


def test_the_key_is_named_without_a_flag() -> None:
    message = refusal({"ORQ_API_KEY": "a b"})
    assert "ORQ_API_KEY: " in message
    assert "--api-key" not in message


def test_a_flag_value_is_named_by_variable_and_flag() -> None:
    assert "ORQ_MCP_TRANSPORT / --transport" in refusal({}, transport="pigeon")


def test_every_problem_is_reported_at_once() -> None:
    message = refusal({"ORQ_MCP_PORT": "70000", "ORQ_BASE_URL": "ftp://x"})
    assert message.count(";") == 1
    assert "ORQ_MCP_PORT" in message
    assert "ORQ_BASE_URL" in message


def test_settings_error_is_a_value_error() -> None:
    assert issubclass(SettingsError, ValueError)


def test_a_named_flag_is_one_the_command_line_accepts() -> None:
    message = refusal({"ORQ_MCP_PORT": "x"})
    flag = message.split(" / ")[1].split(":")[0]
    assert flag == "--port"
    assert cli_accepts(flag)
    assert not cli_accepts("--no-such-flag")


@pytest.mark.parametrize(
    ("variable", "value"), [("ORQ_MCP_AUTH_TOKEN", "short"), ("ORQ_TIMEOUT", "-1"), ("ORQ_MCP_CACHE_TTL", "x")]
)
def test_a_variable_without_a_flag_is_named_without_one(variable: str, value: str) -> None:
    message = refusal({variable: value})
    assert f"Invalid configuration: {variable}: " in message
    assert " / --" not in message


def test_every_flagged_setting_has_its_flag_on_the_command_line() -> None:
    assert FLAGGED
    missing = [field for field in sorted(FLAGGED) if not cli_accepts(f"--{field.replace('_', '-')}")]
    assert missing == []
