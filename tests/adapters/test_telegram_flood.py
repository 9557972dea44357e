"""Telegram's flood limits as a schedule: one queue of slots per chat, a 429 blocks only its
chat, groups get twenty a minute, and the bot as a whole thirty a second."""

from handlers.telegram_flood import FloodGate


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def gate(clock, **kw) -> FloodGate:
    return FloodGate(clock=clock, **kw)


def test_messages_to_one_chat_are_spaced_one_second_apart_in_booking_order():
    clock = Clock()
    g = gate(clock)
    delays = [g.book("42", group=False, max_wait=10).delay for _ in range(4)]
    assert delays == [0.0, 1.0, 2.0, 3.0]


def test_other_chats_are_not_held_up_by_a_busy_one():
    clock = Clock()
    g = gate(clock)
    for _ in range(5):
        g.book("busy", group=False, max_wait=10)
    assert g.book("quiet", group=False, max_wait=10).delay == 0.0


def test_a_slot_further_away_than_max_wait_is_not_booked_and_says_how_long():
    clock = Clock()
    g = gate(clock)
    g.book("42", group=False, max_wait=1)
    g.book("42", group=False, max_wait=1)
    slot = g.book("42", group=False, max_wait=1)
    assert not slot.booked and slot.delay == 2.0
    clock.now += 2
    assert g.book("42", group=False, max_wait=1).booked


def test_a_429_blocks_that_chat_for_retry_after_and_no_other():
    clock = Clock()
    g = gate(clock)
    g.blocked("-100", retry_after=7)
    slot = g.book("-100", group=True, max_wait=1)
    assert not slot.booked and slot.delay == 7
    assert g.book("-200", group=True, max_wait=1).delay == 0.0
    clock.now += 7
    assert g.book("-100", group=True, max_wait=1) == type(slot)(True, 0.0)


def test_a_group_gets_at_most_twenty_messages_a_minute():
    clock = Clock()
    g = gate(clock, chat_interval=0.0)
    assert all(g.book("-1", group=True, max_wait=0).booked for _ in range(20))
    slot = g.book("-1", group=True, max_wait=0)
    assert not slot.booked and slot.delay == 60
    assert g.book("7", group=False, max_wait=0).booked  # a private chat has no such limit
    clock.now += 60
    assert g.book("-1", group=True, max_wait=0).booked


def test_the_bot_wide_limit_spaces_requests_thirty_a_second():
    clock = Clock()
    g = gate(clock, global_per_second=30)
    delays = [g.global_delay() for _ in range(31)]
    assert delays[0] == 0 and abs(delays[30] - 1.0) < 1e-9


def test_idle_chats_are_forgotten():
    clock = Clock()
    g = gate(clock)
    g.book("1", group=True, max_wait=0)
    clock.now += 500
    g.forget_idle()
    assert g._chats == {}
