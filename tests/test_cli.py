"""The `redgrid` command line: settings errors, the missing token, migrate and invite."""

from __future__ import annotations

import asyncio

import pytest

from redgrid.cli import main
from storage.engine import make_engine
from storage.uow import Database


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A clean working directory (no .env) with its own SQLite file."""
    monkeypatch.chdir(tmp_path)
    for name in ("BOT_TOKEN", "BOT_USERNAME", "BOT_API_URL", "REDIS_URL", "TIMEZONE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.sqlite3")
    return tmp_path


def test_run_without_token_says_in_one_line_what_to_do(workdir, capsys):
    assert main(["run"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "@BotFather" in err and "redgrid demo" in err


def test_run_without_token_answers_before_loading_the_bot(workdir):
    """The hint comes at once: aiogram and the scheduler (seconds to import) are not loaded for it."""
    import subprocess
    import sys

    probe = ("import sys; from redgrid.cli import main; code = main(['run']); "
             "print(code, sorted(m for m in ('aiogram', 'scheduler.runner') if m in sys.modules))")
    env = {k: v for k, v in __import__("os").environ.items() if k != "BOT_TOKEN"}
    done = subprocess.run([sys.executable, "-c", probe], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.stdout.strip() == "2 []", done.stdout + done.stderr


def test_wrong_setting_stops_with_one_line_naming_it(workdir, capsys, monkeypatch):
    monkeypatch.setenv("TIMEZONE", "Mars/Olympus")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "TIMEZONE" in err and "Mars/Olympus" in err


def test_settings_read_from_dotenv(workdir, capsys):
    (workdir / ".env").write_text("INVITE_TTL_HOURS=0\n")
    assert main(["migrate"]) == 2
    assert "INVITE_TTL_HOURS" in capsys.readouterr().err


@pytest.mark.parametrize("command", [[], ["run"], ["migrate"], ["import-org"], ["invite"], ["audit"]])
def test_help_on_every_command(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    assert "usage: redgrid" in capsys.readouterr().out


def test_migrate_then_invite_the_first_admin(workdir, capsys):
    assert main(["migrate"]) == 0
    assert main(["invite", "admin", "--hours", "2"]) == 0
    out = capsys.readouterr().out
    assert "/start inv_" in out
    code = out.split("/start inv_")[1].split()[0]

    async def stored():
        db = Database(make_engine(f"sqlite+aiosqlite:///{workdir}/cli.sqlite3"))
        async with db.uow() as uow:
            invite = await uow.invites.get(code)
        await db.dispose()
        return invite

    invite = asyncio.run(stored())
    assert invite.role.value == "admin" and invite.max_uses == 1


def test_invite_link_uses_bot_username_when_set(workdir, capsys, monkeypatch):
    monkeypatch.setenv("BOT_USERNAME", "fengtai_redgrid_bot")
    assert main(["invite", "admin"]) == 0
    assert "https://t.me/fengtai_redgrid_bot?start=inv_" in capsys.readouterr().out


def test_invite_for_unknown_place_fails_clearly(workdir, capsys):
    assert main(["invite", "grid_member", "--grid", "第九网格"]) == 1
    assert "no grid named '第九网格'" in capsys.readouterr().err
    assert main(["invite", "staff"]) == 1
    assert "--community" in capsys.readouterr().err


def test_import_sample_then_invite_an_imported_grid_member_by_phone(workdir, capsys):
    from demo.seed import SAMPLE_ORG

    assert main(["import-org", str(SAMPLE_ORG)]) == 0
    assert "12 buildings" in capsys.readouterr().out
    assert main(["import-org", str(SAMPLE_ORG)]) == 0
    assert "0 created, 0 updated" in capsys.readouterr().out
    assert main(["invite", "grid_member", "--phone", "13900000001"]) == 0
    assert "粮食局小区第一网格" in capsys.readouterr().out


def test_import_of_a_non_spreadsheet_writes_nothing(workdir, capsys):
    (workdir / "notes.pdf").write_bytes(b"%PDF-1.4 not a sheet")
    assert main(["import-org", "notes.pdf"]) == 1
    assert "not a spreadsheet" in capsys.readouterr().err


def test_audit_help_answers_without_loading_the_bot(workdir):
    """`redgrid audit --help` is for an administrator at a terminal: aiogram is not loaded for it."""
    import subprocess
    import sys

    probe = ("import sys\nfrom redgrid.cli import main\ntry:\n    main(['audit', '--help'])\n"
             "except SystemExit as done:\n    print('exit', done.code, 'aiogram' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=workdir, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().endswith("exit 0 False"), done.stdout + done.stderr
    assert "--person ID" in done.stdout and "--day YYYY-MM-DD" in done.stdout


def test_audit_prints_who_saw_whose_data_by_person_and_day(workdir, capsys):
    from datetime import datetime, timezone

    from core.disclosure import AuditEntry
    from core.people import Person

    assert main(["migrate"]) == 0

    async def looks() -> tuple[int, int, int]:
        db = Database(make_engine(f"sqlite+aiosqlite:///{workdir}/cli.sqlite3"))
        async with db.uow() as uow:
            chen, wang, zhao = Person(None, "陈书记"), Person(None, "王阿姨"), Person(None, "赵大爷")
            for person in (chen, wang, zhao):
                await uow.people.add(person)
            await uow.audit.add([  # 23:30 on the 23rd in Shanghai, then the 24th
                AuditEntry(datetime(2026, 11, 23, 15, 30, tzinfo=timezone.utc), chen.id, wang.id, "case.reporter",
                           "DC-2026-000001"),
                AuditEntry(datetime(2026, 11, 23, 16, 30, tzinfo=timezone.utc), chen.id, zhao.id, "desk",
                           "DC-2026-000002")])
            await uow.commit()
        await db.dispose()
        return chen.id, wang.id, zhao.id

    chen, wang, zhao = asyncio.run(looks())
    capsys.readouterr()
    assert main(["audit"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines == [f"2026-11-23 23:30:00  staff {chen} 陈书记  saw person {wang} 王阿姨  case.reporter DC-2026-000001",
                     f"2026-11-24 00:30:00  staff {chen} 陈书记  saw person {zhao} 赵大爷  desk DC-2026-000002"]
    assert main(["audit", "--person", str(zhao)]) == 0
    assert capsys.readouterr().out.strip().splitlines() == lines[1:]
    assert main(["audit", "--day", "2026-11-23"]) == 0
    assert capsys.readouterr().out.strip().splitlines() == lines[:1]
    assert main(["audit", "--day", "2026-11-25"]) == 0
    assert capsys.readouterr().out.strip() == "no entries"


def test_forget_an_imported_grid_member_who_asked_in_writing(workdir, capsys, monkeypatch):
    """`redgrid forget`: the office deletes someone's information on their request (PIPL), as /forget does."""
    from demo.seed import SAMPLE_ORG

    assert main(["import-org", str(SAMPLE_ORG)]) == 0
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    assert main(["forget", "--phone", "13900000001"]) == 1  # not confirmed: nothing deleted
    assert main(["forget", "--phone", "13900000001", "--yes"]) == 0
    assert "forgotten: 0 reports kept anonymised" in capsys.readouterr().out
    assert main(["forget", "--phone", "13900000001", "--yes"]) == 1  # the phone is gone with her
    assert "no such person" in capsys.readouterr().err

    from core.people import Role

    async def names():
        db = Database(make_engine(f"sqlite+aiosqlite:///{workdir}/cli.sqlite3"))
        async with db.uow() as uow:
            found = [p.display_name for p in await uow.people.with_role(Role.GRID_MEMBER)]
            events = await uow.events.of("person", "1")
        await db.dispose()
        return found, events

    members, events = asyncio.run(names())
    assert "李秀英" not in members and len(members) == 3  # her grid has no member now: reports go to the desk
    assert events[-1].kind == "forgotten" and events[-1].after["by"] == "operator"
