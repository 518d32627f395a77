"""Built-in sentence bank for the synthetic corpus: fixed English and Mandarin sentences plus templated ones.

Transcripts are exact by construction (the speech is synthesised from them). Sentences are picked with a caller-
supplied ``numpy.random.Generator`` so that a corpus is reproducible from its seed.
"""

from __future__ import annotations

import zlib

import numpy as np

ENGLISH_SENTENCES: tuple[str, ...] = (
    "The quick brown fox jumps over the lazy dog.",
    "Please call Stella and ask her to bring these things with her from the store.",
    "We will meet at the station a little before nine tomorrow morning.",
    "It is surprisingly easy to forget how large the ocean really is.",
    "My favourite part of the day is the quiet hour just after sunrise.",
    "Could you open the window? It is getting rather warm in here.",
    "The library closes early on Sundays, so plan your visit accordingly.",
    "She painted the old fence a bright shade of blue last summer.",
    "Good ideas often arrive when you stop looking for them.",
    "Thank you all for coming, and welcome to the annual meeting.",
    "The weather report promised rain, but the sky stayed clear all afternoon.",
    "Every river finds its way to the sea in the end.",
    "Let me show you how the new machine works, step by step.",
    "Our team finished the project two weeks ahead of schedule.",
    "A cup of hot tea makes a cold evening feel much shorter.",
    "The children built a tall tower out of wooden blocks.",
    "I would like to book a table for four people at seven o'clock.",
    "Music can change the mood of a room in a single moment.",
    "The museum has a new exhibition about ancient maps.",
    "Remember to water the plants while I am away next week.",
    "He read the letter twice before he finally understood it.",
    "Fresh bread from the bakery smells wonderful in the morning.",
    "The mountain road was narrow, steep and full of sharp turns.",
    "Nobody expected the small film to become such a big success.",
    "Turn left at the bridge and you will see the blue house.",
    "Learning a new language takes patience and a lot of practice.",
    "The cat slept on the warm windowsill for most of the afternoon.",
    "Our flight was delayed, so we had lunch at the airport.",
    "Bright stars filled the sky above the quiet village.",
    "Please speak a little more slowly so that everyone can follow.",
)

CHINESE_SENTENCES: tuple[str, ...] = (
    "今天天气很好，我们去公园散步吧。",
    "请把桌子上的书递给我。",
    "这家餐厅的饭菜非常好吃。",
    "我每天早上七点起床，然后去跑步。",
    "明天下午三点我们在图书馆见面。",
    "他学习中文已经三年了。",
    "这个城市的夜景特别漂亮。",
    "周末我想和朋友一起去看电影。",
    "请问去火车站怎么走？",
    "妈妈正在厨房里做晚饭。",
    "我们的会议推迟到下周一了。",
    "春天来了，花园里的花都开了。",
    "这本小说的故事非常感人。",
    "孩子们在操场上快乐地玩耍。",
    "他每天坐地铁去上班。",
    "这件衣服的颜色很适合你。",
    "我们应该多喝水，少吃甜食。",
    "老师耐心地回答了每一个问题。",
    "山上的空气非常新鲜。",
    "谢谢大家今天来参加我们的活动。",
    "他把房间打扫得干干净净。",
    "这条河从村子中间流过。",
    "我想买一张去上海的火车票。",
    "晚上的时候，街上的人越来越多。",
    "她唱歌的声音特别好听。",
    "我们一起努力，一定能够成功。",
    "这个问题比我想象的要复杂。",
    "冬天的早晨常常有很大的雾。",
    "请在这里写下你的名字和电话号码。",
    "新年快到了，大家都很开心。",
)

_EN_SUBJECTS = ("my brother", "the new teacher", "our neighbour", "a young doctor", "the old fisherman", "my friend Anna")
_EN_VERBS = ("visited", "painted", "described", "repaired", "photographed", "talked about")
_EN_OBJECTS = ("a small garden", "the red bicycle", "an old castle", "the city market", "a wooden boat", "the museum")
_EN_TIMES = ("yesterday afternoon", "last winter", "early this morning", "after dinner", "on a rainy day")

_ZH_TIMES = ("昨天", "今天上午", "去年夏天", "每个周末", "晚饭以后")
_ZH_SUBJECTS = ("我的朋友", "那位医生", "我们的老师", "隔壁的小孩", "我的妹妹", "公司的经理")
_ZH_PLACES = ("在公园里", "在图书馆", "在河边", "在市场上", "在家里")
_ZH_ACTIONS = ("看书", "散步", "画画", "打电话", "喝茶", "写信")

LANGUAGES: tuple[str, ...] = ("en", "zh")


def templated_sentence(language: str, rng: np.random.Generator) -> str:
    """A grammatical sentence assembled from word lists (adds variety beyond the fixed bank)."""
    if language == "en":
        subject, verb, obj, time = (_EN_SUBJECTS[rng.integers(len(_EN_SUBJECTS))], _EN_VERBS[rng.integers(len(_EN_VERBS))],
                                    _EN_OBJECTS[rng.integers(len(_EN_OBJECTS))], _EN_TIMES[rng.integers(len(_EN_TIMES))])
        sentence = f"{subject} {verb} {obj} {time}."
        return sentence[0].upper() + sentence[1:]
    if language == "zh":
        return (_ZH_TIMES[rng.integers(len(_ZH_TIMES))] + _ZH_SUBJECTS[rng.integers(len(_ZH_SUBJECTS))]
                + _ZH_PLACES[rng.integers(len(_ZH_PLACES))] + _ZH_ACTIONS[rng.integers(len(_ZH_ACTIONS))] + "。")
    raise ValueError(f"unsupported language {language!r}; expected one of {LANGUAGES}")


def is_heldout_sentence(sentence: str, heldout_fraction: float) -> bool:
    """Stable split of sentences: a fixed hash of the text decides, so a sentence is held out in every corpus."""
    return zlib.crc32(sentence.encode("utf-8")) / 2**32 < heldout_fraction


def pick_sentences(language: str, count: int, rng: np.random.Generator, templated_fraction: float = 0.3,
                   heldout: bool | None = None, heldout_fraction: float = 0.0) -> list[str]:
    """``count`` sentences. With ``heldout`` set, only sentences of that side of the ``heldout_fraction`` split
    (:func:`is_heldout_sentence`) are drawn, so training sessions never speak a held-out sentence."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported language {language!r}; expected one of {LANGUAGES}")
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    bank = ENGLISH_SENTENCES if language == "en" else CHINESE_SENTENCES
    if heldout is not None:
        bank = tuple(s for s in bank if is_heldout_sentence(s, heldout_fraction) == heldout)
        if not bank:
            raise ValueError(f"held-out fraction {heldout_fraction} leaves no {'held-out' if heldout else 'training'} "
                             f"{language} sentence in the bank")
    order = rng.permutation(len(bank))
    out: list[str] = []
    for i in range(count):
        if rng.random() < templated_fraction:
            out.append(_templated_in_split(language, rng, heldout, heldout_fraction) or bank[order[i % len(bank)]])
        else:
            out.append(bank[order[i % len(bank)]])
    return out


def _templated_in_split(language: str, rng: np.random.Generator, heldout: bool | None, heldout_fraction: float,
                        tries: int = 64) -> str | None:
    """A templated sentence on the requested side of the split (None if ``tries`` draws found none)."""
    for _ in range(tries):
        sentence = templated_sentence(language, rng)
        if heldout is None or is_heldout_sentence(sentence, heldout_fraction) == heldout:
            return sentence
    return None
