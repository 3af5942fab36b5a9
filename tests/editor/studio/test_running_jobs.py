"""RunningJobs: the one registry of each session's running jobs (the Studio's contexts, the serving
client's followed jobs), which `cancel(session)` reads."""

from __future__ import annotations

from editor.studio.context import RunningJobs


def test_a_job_is_found_by_its_session_only_while_it_runs():
    jobs: RunningJobs[str] = RunningJobs()
    with jobs.running("tab-1", "edit") as job:
        assert job == "edit" and jobs.of("tab-1") == ["edit"] and jobs.of("tab-2") == []
    assert jobs.of("tab-1") == []


def test_an_older_job_leaving_keeps_the_newer_one_of_the_same_session():
    jobs: RunningJobs[object] = RunningJobs()
    older, newer = object(), object()
    outer = jobs.running("tab-1", older)
    outer.__enter__()
    with jobs.running("tab-1", newer):
        outer.__exit__(None, None, None)  # the older job ends while the newer one runs
        assert jobs.of("tab-1") == [newer]


def test_a_job_without_a_session_is_not_kept_and_an_error_still_clears_the_entry():
    jobs: RunningJobs[str] = RunningJobs()
    with jobs.running(None, "cli job"):
        assert jobs.of("None") == []
    try:
        with jobs.running("tab-1", "edit"):
            raise RuntimeError("the job failed")
    except RuntimeError:
        pass
    assert jobs.of("tab-1") == []


def test_a_tap_during_an_edit_leaves_the_edit_reachable_and_cancel_reaches_both():
    from editor.studio import Studio, StudioConfig
    from editor.studio.context import JobContext

    studio = Studio(StudioConfig())
    edit, tap = JobContext(session="tab-1"), JobContext(session="tab-1")
    with studio._running.running("tab-1", edit):
        with studio._running.running("tab-1", tap):
            pass  # the tap came and went while the edit runs
        assert studio.cancel("tab-1") and edit.cancel.is_set()
    assert not studio.cancel("tab-1")  # nothing runs any more
