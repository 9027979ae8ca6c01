"""Pure logic: how Whereby-style participant minutes are counted from the join/leave log."""

from server.domain.rooms.insights import SessionInsight
from server.store.records import Meeting, Participation


def _session(*stays: tuple[int, int | None], now: int = 10_000_000) -> SessionInsight:
    meeting = Meeting(room_session_id="s", room_id="r", start_date=0)
    people = [Participation(room_session_id="s", participant_id=f"p{i}", room_id="r", joined_at=j, left_at=l)
              for i, (j, l) in enumerate(stays)]
    return SessionInsight(meeting=meeting, participations=people, recordings=[], now=now)


def test_a_stay_within_one_millisecond_still_counts_a_minute():
    assert _session((500, 500)).participant_minutes == 1


def test_each_stay_is_rounded_up_on_its_own():
    # 1 ms, exactly one minute, one minute and 1 ms
    assert _session((0, 1), (0, 60_000), (0, 60_001)).participant_minutes == 1 + 1 + 2


def test_a_stay_still_running_counts_up_to_now():
    assert _session((0, None), now=150_000).participant_minutes == 3
