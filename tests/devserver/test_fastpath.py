"""honcho's kill wait, the one honcho internal `make run` sets (devserver/fastpath/honcho.py)."""

import honcho.manager as honcho_manager

from devserver.fastpath import honcho


def test_the_grace_period_is_granted_under_the_pinned_honcho(monkeypatch):
    monkeypatch.setattr(honcho_manager, "KILL_WAIT", 5)
    assert honcho.grant_grace(15) is True
    assert honcho_manager.KILL_WAIT == 15


def test_without_kill_wait_make_run_says_so_and_goes_on(monkeypatch, capsys):
    monkeypatch.delattr(honcho_manager, "KILL_WAIT")
    assert honcho.grant_grace(15) is False
    assert capsys.readouterr().out.strip() == honcho.MSG_UNAVAILABLE
