"""asgiref's internals used by infrastructure/streaming.py are there under the pinned version, and
without them the streams fall back to stock Django (a thread each), never to an error."""

import logging

from asgiref.sync import SyncToAsync

from infrastructure.fastpath import asgiref


def test_the_shared_thread_context_is_available_under_the_pinned_asgiref():
    capability = asgiref.check()
    assert capability.available is True, capability.reason


def test_entering_sets_the_context_and_leaving_restores_it():
    context = asgiref.new_shared_context()
    token = asgiref.enter(context)
    try:
        assert SyncToAsync.thread_sensitive_context.get() is context
    finally:
        asgiref.leave(token)
    assert SyncToAsync.thread_sensitive_context.get(None) is not context


def test_without_the_context_variable_nothing_is_set_and_it_says_so_once(monkeypatch, caplog):
    monkeypatch.delattr(SyncToAsync, "thread_sensitive_context")
    asgiref.check.cache_clear()
    try:
        with caplog.at_level(logging.INFO, logger="infrastructure.fastpath.asgiref"):
            assert asgiref.enter(asgiref.new_shared_context()) is None
            asgiref.leave(None)
            assert asgiref.check().available is False
    finally:
        asgiref.check.cache_clear()
    assert [record.getMessage() for record in caplog.records] == [
        asgiref.MSG_UNAVAILABLE % "asgiref's SyncToAsync has no thread_sensitive_context variable"
    ]
