"""Replay a month of a brand's messages, with crises injected, through the real crisis detector
on a simulated clock, and print how fast each crisis was caught and how often it cried wolf.

The stream: a mid-size Taiwanese brand on LINE, Telegram and web chat (~250 messages a day),
with a daily and weekly rhythm, random busy and quiet hours, marketing-post rushes, regulars
who write several messages in a row, a handful of trolls, benign messages that contain crisis
words ("請問有過敏原資訊嗎"), and a classifier that gets ~6% of types wrong. Three weeks of
history teach the baseline first, as a deployment's stored history would.

Injected, twice each: a sudden burst of complaints, a slow build-up over an hour, a single
legal threat (once with the words, once only by meaning), a coordinated troll raid, and a
viral same-story cluster. Each message is embedded by the shared encoder (nlp.encoder), with
embeddings cached on disk so later runs are fast.

Targets (issue 6): every injected incident detected, median delay ≤ 3 minutes, ≤ 1 false alarm
per month of normal traffic, the whole run under two minutes.

    python bench/crisis_replay.py [--days 30] [--history-days 21] [--seed 7]
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

# The detector's matrices are small; BLAS threads only contend on 2 cores (8x slower here).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.crisis import incidents  # noqa: E402
from bot.crisis.detector import Detector, DetectorConfig  # noqa: E402
from bot.crisis.lexicon import Lexicon  # noqa: E402
from bot.crisis.signals import Observation, Signal  # noqa: E402

TZ = ZoneInfo("Asia/Taipei")
TICK = timedelta(seconds=10)  # the live worker evaluates at least this often
RESOLVE_AFTER = timedelta(minutes=90)  # the simulated supervisor closes a quiet incident
CACHE = Path.home() / ".cache" / "replyline" / "bench"

# ---- what people write -------------------------------------------------------------------

NORMAL = {
    "question": {
        "zh-Hant": [
            "請問營業時間是幾點到幾點？",
            "請問週末有開嗎",
            "這款蛋糕還有貨嗎？",
            "可以外送到信義區嗎",
            "請問有素食的選項嗎",
            "會員點數要怎麼查詢？",
            "請問可以用 LINE Pay 嗎",
            "有提供發票統編嗎",
            "請問有過敏原資訊嗎",
            "請問有適合過敏兒的點心嗎",
            "我們是律師事務所，想訂30份下午茶",
            "記者節有活動嗎？",
            "請問門市有停車位嗎",
            "團購10盒以上有優惠嗎",
            "禮盒可以宅配到台南嗎",
            "請問訂單什麼時候會出貨",
            "新品什麼時候上市？",
            "可以預約生日蛋糕嗎",
            "請問有無糖的選擇嗎",
            "怎麼申請退貨？",
        ],
        "zh-Hans": [
            "请问营业时间是几点？",
            "可以寄到上海吗",
            "有没有无糖的款式",
            "会员积分怎么查询",
            "请问什么时候发货",
            "可以开发票吗",
        ],
        "en": [
            "What time do you open on Sunday?",
            "Do you ship to Hong Kong?",
            "Is there a vegan option?",
            "Can I change my delivery address?",
            "Do you have allergen information for the cookies?",
            "How do I check my points?",
        ],
    },
    "advocate": {
        "zh-Hant": [
            "今天的拿鐵超好喝！",
            "店員好親切，謝謝你們",
            "蛋糕很好吃，下次還會再來",
            "包裝好精緻，送禮很有面子",
            "小編好可愛哈哈",
            "支持在地品牌！",
            "每週都來報到",
            "新口味太讚了",
            "外送很快，東西還是熱的",
            "謝謝你們的用心",
        ],
        "zh-Hans": ["咖啡很好喝！", "服务很好，点赞", "包装很精致，好评"],
        "en": ["Best croissant in town!", "Thanks for the quick reply", "Love the new flavour"],
    },
    "complaint": {
        "zh-Hant": [
            "訂單還沒到，可以幫我查一下嗎",
            "等了四十分鐘才拿到餐",
            "店員態度不太好",
            "咖啡太冰了，跟我點的不一樣",
            "外送灑出來了",
            "優惠券不能用，很失望",
            "價格漲太多了吧",
            "App 一直閃退",
            "包裝破損，盒子都壓扁了",
            "退款到現在還沒入帳",
            "電話一直打不通",
            "排隊排太久了",
            "商品跟照片差很多",
            "少給了一杯飲料",
            "客服回覆好慢",
            "會員點數不見了",
            "蛋糕有點乾",
            "冷氣太冷了坐不住",
        ],
        "zh-Hans": ["发货太慢了", "客服一直不回复", "东西质量一般，想退货", "包装破了"],
        "en": [
            "My order is late again",
            "The app keeps crashing",
            "Your staff was rude to me",
            "I was charged for the wrong item",
            "The coffee was cold",
        ],
    },
    "troll": {
        "zh-Hant": [
            "垃圾店家",
            "難吃死了還敢賣這麼貴",
            "小編在睡覺喔",
            "爛公司",
            "業配文好噁",
            "笑死，誰會買",
        ],
        "zh-Hans": ["垃圾", "难吃", "智商税"],
        "en": ["worst brand ever lol", "overpriced garbage", "who even buys this"],
    },
    "other": {
        "zh-Hant": ["哈哈", "+1", "好", "收到", "👍", "嗯嗯", "早安"],
        "zh-Hans": ["好的", "哈哈哈"],
        "en": ["ok", "lol", "hi"],
    },
}
SUFFIX = {
    "zh-Hant": ["", "！", "…", " 🙏", "，謝謝"],
    "zh-Hans": ["", "！", "…"],
    "en": ["", "!", " 🙏"],
}
SENTIMENT = {"question": 0.0, "advocate": 0.7, "complaint": -0.55, "troll": -0.7, "other": 0.05}
TYPE_MIX = {"question": 0.38, "advocate": 0.24, "complaint": 0.20, "troll": 0.05, "other": 0.13}
PROMO_MIX = {"question": 0.50, "advocate": 0.32, "complaint": 0.10, "troll": 0.02, "other": 0.06}
LANG_MIX = {"zh-Hant": 0.72, "zh-Hans": 0.12, "en": 0.16}
CHANNEL_MIX = {"line": 0.55, "telegram": 0.25, "web": 0.20}
HOURLY = [0.6, 0.35, 0.2, 0.15, 0.12, 0.15, 0.3, 0.6, 1.0, 1.3, 1.4, 1.6,
          2.2, 2.0, 1.4, 1.3, 1.3, 1.5, 1.8, 2.1, 2.4, 2.3, 1.7, 1.1]  # fmt: skip
DAILY = 250

CRISES = {
    "burst": [
        "App 付款被扣了兩次錢！",
        "我也被重複扣款了",
        "信用卡被刷兩次是怎樣",
        "扣款兩次，請馬上處理",
        "剛剛付款失敗但錢被扣了",
        "我的帳戶被扣兩筆",
        "重複扣款誰來負責",
        "付一次扣兩次太誇張",
        "I was charged twice for one order",
        "被多扣錢了，客服也打不通",
        "你們系統是不是壞了一直重複扣款",
        "退錢！被扣兩次",
        "我朋友也被重複扣款",
        "double charged on my card!",
        "重複扣款請給個說法",
    ],
    "buildup": [
        "今天的外送怎麼都還沒到",
        "訂單卡在配送中兩個小時了",
        "外送員說找不到店家取餐",
        "我的早午餐到現在還沒來",
        "外送延遲也不通知一下",
        "餐點送到都冷掉了，等了快兩小時",
        "今天外送是全面停擺嗎",
        "一直顯示準備中，到底什麼時候送",
        "My delivery is two hours late",
        "外送平台上你們的訂單都卡住了",
    ],
    "legal_words": ["你們賣過期的東西給我，我已經委託律師，準備對你們提告"],
    "legal_meaning": ["這件事沒完，我們就在法庭上解決，等著賠我的醫藥費"],
    "raid": [
        "爛店倒一倒",
        "垃圾公司快倒閉",
        "抵制這家黑心店",
        "大家不要買",
        "噁心的品牌",
        "倒閉啦哈哈哈",
        "黑心企業滾",
        "抵制抵制抵制",
        "這種店也敢開",
        "垃圾垃圾垃圾",
    ],
    "viral_glass": [
        "你們的布丁裡面有玻璃碎片！",
        "我買的布丁吃到玻璃，太可怕了",
        "布丁有玻璃是怎樣？？",
        "剛剛在布丁裡發現碎玻璃，還好沒吞下去",
        "你們家布丁出現玻璃渣，請給個交代",
        "同事也在布丁裡吃到玻璃",
        "布丁玻璃事件你們要怎麼處理",
        "看到網路上說你們布丁有玻璃，是真的嗎？",
        "布丁裡有玻璃，小孩差點吃下去",
        "我家的布丁也有一小片玻璃",
        "玻璃布丁事件到底要不要回應",
    ],
    "viral_ad": [
        "你們新廣告在嘲笑胖子，很不舒服",
        "這支廣告有歧視身材的意味",
        "廣告拿外型開玩笑很沒品",
        "看完你們的新廣告覺得被冒犯",
        "新廣告內容很有問題，請下架",
        "廣告在霸凌身材不好的人",
        "你們的行銷團隊怎麼會覺得這廣告好笑",
        "拿身材開玩笑的廣告，取消追蹤了",
        "新廣告真的很不尊重人",
        "這廣告是在羞辱胖的人嗎",
    ],
}


@dataclass
class Msg:
    at: datetime
    channel: str
    author: str
    type: str
    sentiment: float
    text: str
    injected: int | None = None  # which injected incident it belongs to


@dataclass
class Injected:
    number: int
    shape: str
    start: datetime
    messages: list[Msg] = field(default_factory=list)


# ---- generation ----------------------------------------------------------------------------


def pick(rng: random.Random, weights: dict[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def normal_text(rng: random.Random, kind: str) -> str:
    lang = pick(rng, LANG_MIX)
    pool = NORMAL[kind].get(lang) or NORMAL[kind]["zh-Hant"]
    return rng.choice(pool) + rng.choice(SUFFIX[lang])


def classifier_view(rng: random.Random, kind: str) -> tuple[str, float]:
    """What a good but imperfect classifier says: sometimes the wrong type, noisy sentiment."""
    seen = kind if rng.random() > 0.06 else rng.choice([t for t in TYPE_MIX if t != kind])
    sentiment = max(-1.0, min(1.0, SENTIMENT[seen] + rng.gauss(0, 0.2)))
    return seen, sentiment


def generate_normal(rng: random.Random, start: datetime, days: int) -> list[Msg]:
    customers = [f"c{i}" for i in range(6000)]
    weights = [1 / (i + 10) ** 1.05 for i in range(len(customers))]
    trolls = [f"troll{i}" for i in range(25)]
    mean = sum(HOURLY) / 24
    out: list[Msg] = []
    for hour in range(days * 24):
        t0 = start + timedelta(hours=hour)
        local = t0.astimezone(TZ)
        weekend = local.weekday() >= 5
        shape = HOURLY[local.hour] / mean
        if weekend:
            shape *= 1.25 if local.hour >= 10 else 0.8
        busy = rng.gammavariate(6, 1 / 6)
        promo = rng.random() < 0.02
        rate = DAILY / 24 * shape * busy * (2.5 if promo else 1.0)
        mix = PROMO_MIX if promo else TYPE_MIX
        for _ in range(_poisson(rng, rate)):
            at = t0 + timedelta(seconds=rng.uniform(0, 3600))
            kind = pick(rng, mix)
            author = rng.choice(trolls) if kind == "troll" else rng.choices(customers, weights)[0]
            channel = pick(rng, CHANNEL_MIX)
            repeats = 1
            if kind == "troll":
                repeats = rng.randint(1, 4)
            elif kind in ("complaint", "question") and rng.random() < 0.25:
                repeats = rng.randint(2, 4)
            for r in range(repeats):
                seen, sentiment = classifier_view(rng, kind)
                when = at + timedelta(minutes=r * rng.uniform(0.5, 6))
                out.append(Msg(when, channel, author, seen, sentiment, normal_text(rng, kind)))
    return out


def _poisson(rng: random.Random, mean: float) -> int:
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit and k < 10_000:
        k += 1
        p *= rng.random()
    return k


def inject(rng: random.Random, start: datetime, days: int) -> list[Injected]:
    """Ten crises on different days and hours of the month, none in the first two days."""
    plan = [
        ("burst", 2, 12), ("slow build-up", 5, 18), ("legal threat (words)", 8, 22),
        ("troll raid", 10, 14), ("viral story", 13, 20), ("burst", 16, 9),
        ("slow build-up", 18, 11), ("legal threat (meaning)", 21, 3), ("troll raid", 24, 21),
        ("viral story", 27, 13),
    ]  # fmt: skip
    out = []
    for number, (shape, day, hour) in enumerate(plan, 1):
        if day >= days:
            continue
        local = (start.astimezone(TZ) + timedelta(days=day)).replace(hour=hour, minute=0)
        t0 = local.astimezone(UTC) + timedelta(minutes=rng.uniform(0, 40))
        incident = Injected(number, shape, t0)
        incident.messages = _crisis_messages(rng, shape, number, t0)
        incident.start = min(m.at for m in incident.messages)
        out.append(incident)
    return out


def _crisis_messages(rng: random.Random, shape: str, n: int, t0: datetime) -> list[Msg]:
    def msg(at, kind, text, channel=None, author=None):
        seen, sentiment = classifier_view(rng, kind)
        lang = "en" if text.isascii() else "zh-Hant"
        text = text + rng.choice(SUFFIX[lang])
        author = author or f"x{n}-{rng.randrange(10**6)}"
        return Msg(at, channel or pick(rng, CHANNEL_MIX), author, seen, sentiment, text, n)

    if shape == "burst":
        return [
            msg(
                t0 + timedelta(seconds=rng.uniform(0, 360)),
                "complaint",
                rng.choice(CRISES["burst"]),
            )
            for _ in range(22)
        ]
    if shape == "slow build-up":  # the rate climbs from nothing to ~1.2 a minute over an hour
        return [
            msg(t0 + timedelta(minutes=60 * math.sqrt(rng.random())), "complaint",
                rng.choice(CRISES["buildup"]))
            for _ in range(36)
        ]  # fmt: skip
    if shape.startswith("legal"):
        key = "legal_words" if "words" in shape else "legal_meaning"
        return [msg(t0, "complaint", CRISES[key][0])]
    if shape == "troll raid":
        raiders = [f"raider{n}-{i}" for i in range(12)]
        return [
            msg(t0 + timedelta(seconds=rng.uniform(0, 720)), "troll", rng.choice(CRISES["raid"]),
                "telegram", rng.choice(raiders))
            for _ in range(35)
        ]  # fmt: skip
    pool = CRISES["viral_glass" if n % 2 else "viral_ad"]
    kinds = {"complaint": 0.7, "question": 0.2, "troll": 0.1}
    return [
        msg(t0 + timedelta(minutes=rng.uniform(0, 45)), pick(rng, kinds), rng.choice(pool))
        for _ in range(16)
    ]


# ---- embeddings ----------------------------------------------------------------------------


def embed_all(texts: list[str]) -> tuple[dict[str, np.ndarray], float, object]:
    """Embeddings for every distinct text, from the disk cache or the shared encoder."""
    from nlp.encoder import get_encoder

    encoder = get_encoder()
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"crisis_vectors_{encoder.name}.npz"
    cached: dict[str, np.ndarray] = {}
    if path.exists():
        with np.load(path) as data:
            cached = dict(zip(data["keys"].tolist(), data["vectors"], strict=True))
    key = {t: hashlib.sha1(t.encode()).hexdigest() for t in texts}  # noqa: S324 (a cache key)
    missing = sorted({t for t in texts if key[t] not in cached})
    started = time.perf_counter()
    if missing:
        vectors = encoder.embed(missing, prefix="query: ")
        cached.update({key[t]: v for t, v in zip(missing, vectors, strict=True)})
        np.savez(path, keys=np.array(list(cached)), vectors=np.stack(list(cached.values())))
    seconds = time.perf_counter() - started

    def embed(batch: list[str]) -> np.ndarray:
        return encoder.embed(batch, prefix="query: ")

    return {t: cached[key[t]] for t in texts}, seconds, embed


# ---- the simulated team's incident book ----------------------------------------------------


@dataclass
class Opened:
    view: incidents.IncidentView
    opened_at: datetime
    last_signal: datetime
    first_signal: Signal
    injected: set[int]  # injected crises whose messages it holds


class Book:
    """The decisions `bot.crisis.incidents.record` takes in the database, kept in memory: a
    signal joins the active incident it belongs to, or opens one; a simulated supervisor
    resolves incidents that have been quiet for 90 minutes."""

    def __init__(self, story_threshold: float, injected_of: dict[int, int], kinds=None):
        self.kinds = kinds  # only these signal kinds count (all when None)
        self.threshold = story_threshold
        self.injected_of = injected_of
        self.active: list[Opened] = []
        self.closed: list[Opened] = []
        self.resolved_ids: set[int] = set()
        self.detected: dict[int, tuple[datetime, Signal, bool]] = {}

    def follow_up(self, obs: Observation) -> None:
        for opened in self.active:
            if incidents.joins(obs, opened.view, self.threshold):
                opened.view.message_ids.add(obs.message_id)
                self._note(opened, [obs.message_id], obs.at, None)
                return

    def record(self, signal: Signal, now: datetime) -> None:
        if self.kinds and signal.kind not in self.kinds:
            return
        if incidents.mostly_resolved(signal.message_ids, self.resolved_ids):
            return
        views = [o.view for o in self.active]
        match = next((v for v in views if incidents.belongs(signal, v, self.threshold)), None)
        if match is None:
            view = incidents.IncidentView(
                id=len(self.active) + len(self.closed) + 1,
                kinds={signal.kind},
                channels=set(signal.channels),
                message_ids=set(signal.message_ids),
                story=signal.vector,
                severity=signal.severity,
            )
            opened = Opened(view, now, now, signal, set())
            self.active.append(opened)
        else:
            opened = next(o for o in self.active if o.view is match)
            match.severity = incidents.raised_severity(match.severity, signal, match.kinds)
            match.kinds.add(signal.kind)
            match.channels.update(signal.channels)
            match.message_ids.update(signal.message_ids)
            if match.story is None:
                match.story = signal.vector
            opened.last_signal = now
        self._note(opened, signal.message_ids, now, signal)

    def _note(self, opened: Opened, ids, now: datetime, signal: Signal | None) -> None:
        for message_id in ids:
            number = self.injected_of.get(message_id)
            if number is None:
                continue
            opened.injected.add(number)
            if number not in self.detected and signal is not None:
                self.detected[number] = (now, signal, opened.opened_at == now)

    def resolve_quiet(self, now: datetime) -> None:
        for opened in list(self.active):
            if now - opened.last_signal >= RESOLVE_AFTER:
                self.active.remove(opened)
                self.closed.append(opened)
                self.resolved_ids |= opened.view.message_ids

    @property
    def all(self) -> list[Opened]:
        return self.closed + self.active


# ---- the replay ----------------------------------------------------------------------------


def observation(i: int, m: Msg, vector: np.ndarray) -> Observation:
    return Observation(
        message_id=i,
        at=m.at,
        channel=m.channel,
        author=f"{m.channel}:{m.author}",
        type=m.type,
        sentiment=m.sentiment,
        text=m.text,
        vector=vector,
    )


@dataclass
class Run:
    seed: int
    crises: list[Injected]
    book: Book
    messages: tuple[int, int, int, int]  # history, normal, injected, distinct texts
    seconds: tuple[float, float]  # embedding, replay

    @property
    def delays(self) -> list[float]:
        return [
            (self.book.detected[c.number][0] - c.start).total_seconds() / 60
            for c in self.crises
            if c.number in self.book.detected
        ]

    @property
    def false_alarms(self) -> list[Opened]:
        return [o for o in self.book.all if not o.injected]


def replay(seed: int, days: int, history_days: int, kinds=None) -> Run:
    """Generate the stream for `seed` and run it through the detector on a simulated clock."""
    rng = random.Random(seed)
    history_start = datetime(2026, 8, 3, tzinfo=TZ).astimezone(UTC)  # a Monday
    replay_start = history_start + timedelta(days=history_days)
    history = sorted(generate_normal(rng, history_start, history_days), key=lambda m: m.at)
    normal = generate_normal(rng, replay_start, days)
    crises = inject(rng, replay_start, days)
    stream = sorted(normal + [m for c in crises for m in c.messages], key=lambda m: m.at)

    texts = [m.text for m in history + stream]
    vectors, embed_seconds, embed = embed_all(texts)
    lexicon = Lexicon.load()
    lexicon.prepare(embed)
    config = DetectorConfig(timezone="Asia/Taipei")
    detector = Detector(config, lexicon)
    detector.learn(
        [observation(-i - 1, m, vectors[m.text]) for i, m in enumerate(history)],
        now=replay_start,
        since=history_start,
    )
    injected_of = {i: m.injected for i, m in enumerate(stream) if m.injected is not None}
    book = Book(config.story.member, injected_of, kinds)
    started = time.perf_counter()
    clock, end, position = replay_start, replay_start + timedelta(days=days), 0
    while clock < end:
        clock += TICK
        while position < len(stream) and stream[position].at <= clock:
            m = stream[position]
            obs = observation(position, m, vectors[m.text])
            book.follow_up(obs)
            for signal in detector.observe(obs) + detector.evaluate(m.at):
                book.record(signal, m.at)
            position += 1
        for signal in detector.evaluate(clock):
            book.record(signal, clock)
        book.resolve_quiet(clock)
    counts = (len(history), len(normal), len(stream) - len(normal), len(set(texts)))
    return Run(seed, crises, book, counts, (embed_seconds, time.perf_counter() - started))


def report(run: Run, days: int) -> None:
    history, normal, injected, distinct = run.messages
    print(f"messages: {history:,} history, {normal:,} normal, {injected} injected; "
          f"{distinct:,} distinct texts")  # fmt: skip
    print()
    print(f"{'#':>2}  {'shape':<24} {'starts (Taipei)':<17} {'msgs':>4}  {'delay':>7}  signal")
    for c in run.crises:
        local = c.start.astimezone(TZ).strftime("%a %m-%d %H:%M")
        head = f"{c.number:>2}  {c.shape:<24} {local:<17} {len(c.messages):>4}"
        found = run.book.detected.get(c.number)
        if found is None:
            print(f"{head}  {'MISSED':>7}")
            continue
        at, signal, opened = found
        how = f"{signal.kind} (severity {signal.severity}){'' if opened else ', joined'}"
        print(f"{head}  {(at - c.start).total_seconds() / 60:>5.1f} m  {how}")
    print()
    summary(run.delays, len(run.crises), len(run.false_alarms), days)
    for o in run.false_alarms:
        local = o.opened_at.astimezone(TZ).strftime("%a %m-%d %H:%M")
        print(f"  - {local}  {o.first_signal.kind}: {o.first_signal.explanation[:140]}")


def summary(delays: list[float], crises: int, false_alarms: int, days: int) -> None:
    print(f"detected: {len(delays)}/{crises}")
    if delays:
        print(f"delay: median {statistics.median(delays):.1f} min, max {max(delays):.1f} min")
    print(
        f"false alarms: {false_alarms} in {days} days of normal traffic "
        f"({false_alarms / (days / 7):.2f} per week, {false_alarms / days * 30:.1f} per 30 days)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--history-days", type=int, default=21)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--seeds", help="several streams, e.g. 7,11,23,5,42: pooled figures")
    parser.add_argument(
        "--kinds", help="count only these signals, e.g. volume,share,story (default: all)"
    )
    args = parser.parse_args(argv)
    wall = time.perf_counter()
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [args.seed]
    runs = []
    for seed in seeds:
        print(f"crisis replay: {args.days} days after {args.history_days} days of history, "
              f"seed {seed}")  # fmt: skip
        kinds = set(args.kinds.split(",")) if args.kinds else None
        run = replay(seed, args.days, args.history_days, kinds)
        report(run, args.days)
        print(f"time: embedding {run.seconds[0]:.1f} s, replay {run.seconds[1]:.1f} s\n")
        runs.append(run)
    if len(runs) > 1:
        print(f"all {len(runs)} streams together:")
        summary(
            [d for r in runs for d in r.delays],
            sum(len(r.crises) for r in runs),
            sum(len(r.false_alarms) for r in runs),
            args.days * len(runs),
        )
    print(f"time: {time.perf_counter() - wall:.1f} s total")
    return 0


if __name__ == "__main__":
    sys.exit(main())
