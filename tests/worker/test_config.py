"""Configuration: precedence of flags, environment and file; every invalid value refused clearly."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest
from click.testing import CliRunner

from taskmanager.cli.worker import build_command
from taskmanager.worker import ConfigError, Worker, WorkerConfig, load_config
from taskmanager.worker.config import OPTIONS
from tests.worker.conftest import ROOT


def test_defaults_are_the_documented_ones() -> None:
    config = load_config({}, {})
    assert config.api_url == "http://localhost:8000/api"
    assert config.poll_interval == 10 and config.max_runs == 0 and config.concurrency == 1
    assert config.task_types is None and config.api_key is None and config.debug is False
    assert config.max_consecutive_errors == 5 and config.log_format == "text"
    assert config.worker_id != WorkerConfig().worker_id  # unique per process and instance


def test_flag_over_environment_over_file_over_default(tmp_path: Path) -> None:
    conf = tmp_path / "worker.conf"
    conf.write_text(
        "# comment\n\nexport WORKER_ID='file'\nPOLL_INTERVAL=3\nMAX_RUNS=7\nCONCURRENCY=2\n"
    )
    env = {"POLL_INTERVAL": "4", "MAX_RUNS": "8", "TASK_TYPES": "a.b, c.d"}
    config = load_config({"max_runs": "9", "debug": True}, env, conf)
    assert config.worker_id == "file"
    assert config.concurrency == 2
    assert config.poll_interval == 4
    assert config.max_runs == 9
    assert config.task_types == ("a.b", "c.d")
    assert config.debug is True


def test_empty_environment_values_count_as_unset(tmp_path: Path) -> None:
    conf = tmp_path / "worker.conf"
    conf.write_text("WORKER_ID=file\n")
    assert load_config({}, {"WORKER_ID": ""}, conf).worker_id == "file"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TASKMANAGER_API_URL": "ftp://x"}, "TASKMANAGER_API_URL (environment): must be an http"),
        ({"POLL_INTERVAL": "0"}, "POLL_INTERVAL (environment): must be more than 0 seconds"),
        ({"POLL_INTERVAL": "nan"}, "POLL_INTERVAL (environment): must be a number from"),
        ({"MAX_RUNS": "-1"}, "MAX_RUNS (environment): must be a whole number from 0"),
        ({"MAX_RUNS": "1.5"}, "MAX_RUNS (environment): must be a whole number"),
        ({"CONCURRENCY": "101"}, "CONCURRENCY (environment): must be a whole number from 1 to 100"),
        ({"DEBUG": "sometimes"}, "DEBUG (environment): must be true or false"),
        ({"MAX_CONSECUTIVE_ERRORS": "0"}, "MAX_CONSECUTIVE_ERRORS (environment): must be"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT (environment): must be text or json"),
        ({"TASK_TYPES": "ok.type,bad type"}, "TASK_TYPES (environment): 'bad type' is not"),
        ({"WORKER_ID": "x" * 201}, "WORKER_ID (environment): must be 1 to 200"),
    ],
)
def test_invalid_values_name_the_setting_and_source(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config({}, env)
    assert message in str(caught.value)


def test_file_errors_name_the_line(tmp_path: Path) -> None:
    conf = tmp_path / "worker.conf"
    conf.write_text("DEBUG=false\nPOLL_INTERVALL=5\n")
    with pytest.raises(ConfigError, match=r"worker.conf:2: unknown setting 'POLL_INTERVALL'"):
        load_config({}, {}, conf)
    conf.write_text("CONCURRENCY=lots\n")
    with pytest.raises(ConfigError, match=r"CONCURRENCY \(in .*worker.conf\): must be a whole"):
        load_config({}, {}, conf)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--poll-interval", "abc"], "error: --poll-interval: must be a number, got 'abc'"),
        (["--task-types", "myapp.unknown"], "error: TASK_TYPES: no handler for myapp.unknown"),
        (["--config", "missing.conf"], "error: cannot read config file missing.conf"),
        (["--import", "no_such_module_here"], "cannot import no_such_module_here"),
        (["--import", "json:nothing"], "error: --import json:nothing: json defines no `nothing`"),
        (["--import", "json:dumps"], "expected a Worker or a dict of handlers, got function"),
    ],
)
def test_the_command_exits_2_with_a_message(args: list[str], message: str) -> None:
    result = CliRunner().invoke(build_command(), args, env={"POLL_INTERVAL": None})
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_help_and_docs_list_every_option() -> None:
    help_text = CliRunner().invoke(build_command(), ["--help"]).output
    readme = (ROOT / "README.md").read_text()
    guide = (ROOT / "docs" / "worker.md").read_text()
    example = (ROOT / "workers" / "python" / "worker.conf.example").read_text()
    for option in OPTIONS:
        assert option.flag in help_text and option.env in help_text
        assert f"`{option.flag}`" in readme and f"`{option.env}`" in readme
        assert f"`{option.env}`" in guide
        assert f"{option.env}=" in example


def test_a_ca_bundle_that_is_not_pem_is_refused_at_start(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate\n")
    with pytest.raises(ConfigError, match=r"TASKMANAGER_CA_BUNDLE \(environment\): .* no certif"):
        load_config({}, {"TASKMANAGER_CA_BUNDLE": str(bundle)})
    result = CliRunner().invoke(build_command(), ["--ca-bundle", str(bundle)])
    assert result.exit_code == 2
    assert "error: --ca-bundle:" in result.output and "Traceback" not in result.output


class _Recorder(Worker):
    """A worker that notes the configuration it was given instead of running."""

    seen: ClassVar[list[WorkerConfig]] = []

    def run(self, config: WorkerConfig) -> int:
        self.seen.append(config)
        return 0


@pytest.mark.parametrize(
    ("args", "env", "debug"),
    [
        ([], {}, False),
        (["--debug"], {}, True),
        (["--debug=true"], {}, True),
        (["--debug=false"], {}, False),
        (["--debug=0"], {}, False),
        (["--debug", "--max-runs=1"], {}, True),
        (["--debug=false"], {"DEBUG": "true"}, False),
        (["--debug"], {"DEBUG": "false"}, True),
        ([], {"DEBUG": "yes"}, True),
    ],
)
def test_debug_is_a_switch_or_takes_true_or_false(
    args: list[str], env: dict[str, str], debug: bool
) -> None:
    _Recorder.seen.clear()
    result = CliRunner().invoke(build_command(_Recorder()), args, env={"DEBUG": None, **env})
    assert result.exit_code == 0, result.output
    assert [config.debug for config in _Recorder.seen] == [debug]


def test_debug_with_another_word_is_refused() -> None:
    result = CliRunner().invoke(build_command(_Recorder()), ["--debug=perhaps"])
    assert result.exit_code == 2
    assert "error: --debug: must be true or false, got 'perhaps'" in result.output
