"""User machine profiles (issue 12): the user profile folder that `pramsim calibrate` writes to and
`pramsim machines` lists, and `--machine FILE.toml` on every command that takes a machine.

The folder is a temp folder of each test's own (PRAMSIM_MACHINES_DIR, monkeypatched). References:
the shipped h200 profile's figures, renamed; a profile with a negative field on a known line."""
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pramsim.cli import main
from pramsim.machine import available_machines, load_machine
from pramsim.machine.spec import USER_DIR_ENV, user_profile_dir

FIXTURE = Path(__file__).parent / "fixtures" / "measurement_fixture.json"
H200 = available_machines()["h200"]


@pytest.fixture
def user_dir(tmp_path, monkeypatch):
    folder = tmp_path / "config" / "machines"   # not created: calibrate must create it
    monkeypatch.setenv(USER_DIR_ENV, str(folder))
    return folder


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def renamed_h200(path: Path, name: str) -> Path:
    """The shipped h200 profile under another name, at `path`."""
    text = H200.read_text().replace('name = "h200"', f'name = "{name}"')
    assert f'name = "{name}"' in text
    path.write_text(text)
    return path


def test_the_folder_is_the_environment_variable_else_the_platformdirs_config_folder(user_dir, monkeypatch):
    assert user_profile_dir() == user_dir
    monkeypatch.delenv(USER_DIR_ENV)
    from platformdirs import user_config_dir
    assert user_profile_dir() == Path(user_config_dir("pramsim")) / "machines"


def test_calibrate_without_out_writes_into_the_user_folder_and_the_profile_is_usable_by_name(user_dir):
    r = invoke("calibrate", "--from-json", FIXTURE, "--name", "fx")
    assert r.exit_code == 0, r.output
    assert (user_dir / "fx.toml").is_file()
    assert f"profile written to {user_dir / 'fx.toml'} (use it with --machine fx)" in r.stderr
    assert load_machine("fx").sms == 100                     # the fixture's figure, found by name
    r = invoke("machines")
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("fx "))
    assert "100 SMs x 64 lanes" in line and str(user_dir / "fx.toml") in line
    r = invoke("run", "tree_sum", "n=16", "--machine", "fx", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["machine"] == "fx"


def test_a_damaged_user_profile_is_reported_with_file_and_line_and_the_others_are_still_listed(user_dir):
    user_dir.mkdir(parents=True)
    renamed_h200(user_dir / "good.toml", "good")
    (user_dir / "bad.toml").write_text('name = "bad"\nkind = "gpu"\nsms = -3\n')
    (user_dir / "notutf8.toml").write_bytes(b'name = "caf\xe9"\n')
    r = invoke("machines")
    assert r.exit_code == 0, r.output
    names = [ln.split()[0] for ln in r.stdout.splitlines()]
    assert names == [*available_machines(), "good"]          # shipped, then the good user profile; no damaged one
    assert f"{user_dir / 'bad.toml'}:3:1: machine error: field 'sms' must not be negative, got -3" in r.stderr
    assert f"{user_dir / 'notutf8.toml'}:1:" in r.stderr and "UTF-8" in r.stderr
    rows = json.loads(invoke("machines", "--json").stdout)
    bad = next(row for row in rows if row["name"] == "bad")
    assert bad["origin"] == "user" and "must not be negative" in bad["error"] and bad["where"].endswith("bad.toml:3:1")
    good = next(row for row in rows if row["name"] == "good")
    assert good["figures"]["hbm_bytes_per_s"] == load_machine("h200").hbm_bytes_per_s


def test_a_user_profile_cannot_change_what_a_shipped_name_means(user_dir):
    user_dir.mkdir(parents=True)
    (user_dir / "h100.toml").write_text(H200.read_text())
    assert load_machine("h100").hbm_bytes_per_s == 2.33e12       # still the shipped h100
    line = next(ln for ln in invoke("machines").stdout.splitlines() if str(user_dir) in ln)
    assert line.startswith("h100 ") and "use the path" in line


def test_an_unknown_name_names_the_user_folder_and_suggests_user_profiles(user_dir):
    user_dir.mkdir(parents=True)
    renamed_h200(user_dir / "mygpu.toml", "mygpu")
    r = invoke("run", "tree_sum", "n=16", "--machine", "mygpo")
    assert r.exit_code == 1 and "unknown machine 'mygpo'" in r.stderr
    assert "mygpu" in r.stderr and str(user_dir) in r.stderr


def test_no_user_profiles_is_said_on_stderr_and_stdout_lists_the_shipped(user_dir):
    r = invoke("machines")
    assert [ln.split()[0] for ln in r.stdout.splitlines()] == list(available_machines())
    assert f"no user profiles in {user_dir}" in r.stderr


@pytest.mark.parametrize("args", [
    ["run", "tree_sum", "n=16", "--machine"],
    ["sweep", "tree_sum", "n=16,32", "--json", "--machine"],
    ["roofline", "tree_sum", "n=16", "--plot", "{tmp}/r.png", "--machine"],
    ["validate", "--predict-only", "--small", "--out", "{tmp}/p.json", "--machine"],
], ids=["run", "sweep", "roofline", "validate"])
def test_machine_path_is_accepted_wherever_machine_is(tmp_path, args):
    """Each command runs on the profile at the path; the same path damaged is an error naming it."""
    path = renamed_h200(tmp_path / "elsewhere.toml", "elsewhere")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    r = invoke(*argv, path)
    assert r.exit_code == 0, r.output
    if args[0] != "roofline":          # roofline's output does not name the machine
        written = tmp_path / "p.json"
        assert "elsewhere" in (written.read_text() if written.exists() else r.output)
    path.write_text(path.read_text().replace("sms = 132", "sms = -132"))
    r = invoke(*argv, path)
    assert r.exit_code == 1 and f"{path}:" in r.stderr and "'sms' must not be negative" in r.stderr
