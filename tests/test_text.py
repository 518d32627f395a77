"""Text front-end: normalisation, pinyin (+ inline overrides), mixed text, vocabulary, units, batches."""

from __future__ import annotations

import warnings

import pytest
import torch

from omnitalker.text import (
    EmptyTextError,
    InlinePinyinError,
    TextError,
    UnknownSymbolWarning,
    UnsupportedTextError,
    Vocab,
    VocabFormatError,
    detect_language,
    encode_batch,
    length_units,
    normalize_text,
    tokenize,
)

S = " "


def chars(word: str) -> list[str]:
    return list(word)


# ---------------------------------------------------------------------------------------------- tokenize
def test_chinese_pinyin_with_tone_sandhi_and_spaces() -> None:
    assert tokenize("你好") == [S, "ni2", S, "hao3"]  # 3-3 sandhi: ni3 -> ni2
    assert tokenize("你好，世界。") == [S, "ni2", S, "hao3", ",", S, "shi4", S, "jie4", "."]
    assert tokenize("一个") == [S, "yi2", S, "ge4"]  # 一 sandhi
    assert tokenize("朋友们") == [S, "peng2", S, "you3", S, "men5"]  # neutral tone written as 5
    assert tokenize("女人") == [S, "nv3", S, "ren2"]  # ü written as v


def test_english_keeps_case_and_punctuation() -> None:
    assert tokenize("Hello,  World!") == [*chars("Hello"), ",", S, *chars("World"), "!"]


def test_mixed_text_word_boundaries() -> None:
    assert tokenize("我爱Python编程") == [S, "wo3", S, "ai4", S, *chars("Python"), S, "bian1", S, "cheng2"]
    assert tokenize("Python很好") == [*chars("Python"), S, "hen3", S, "hao3"]
    assert tokenize("I said 你好.") == [*chars("I said"), S, "ni2", S, "hao3", "."]


def test_polyphone_override_changes_output() -> None:
    assert tokenize("银行") == [S, "yin2", S, "hang2"]
    assert tokenize("银行{xing2}") == [S, "yin2", S, "xing2"]
    assert tokenize("重要")[1] == "zhong4"
    assert tokenize("重{chong2}要") == [S, "chong2", S, "yao4"]
    # n syllables override the last n characters; ü spellings are canonicalised; case is ignored
    assert tokenize("行长{Hang2 zhang3}") == [S, "hang2", S, "zhang3"]
    assert tokenize("女{nü3}") == [S, "nv3"]


def test_inline_pinyin_inserted_when_not_after_chinese() -> None:
    assert tokenize("say {ni3 hao3}!") == [*chars("say"), S, "ni3", S, "hao3", "!"]
    assert tokenize("{ma1}") == [S, "ma1"]
    assert tokenize("好{hao4}{ma5}") == [S, "hao4", S, "ma5"]  # a group right after a group inserts


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("行{hang}", "'hang' has no tone"), ("行{xx2}", "'xx2' is not a Mandarin syllable"),
     ("行{hang2", "unmatched '{'"), ("行}", "unmatched '}'"), ("行{hang2 zhang3}", "2 syllables but only 1"),
     ("行{}", "empty inline pinyin")],
)
def test_bad_inline_pinyin_raises_named_error(text: str, fragment: str) -> None:
    with pytest.raises(InlinePinyinError, match=fragment.replace("{", r"\{").replace("}", r"\}")):
        tokenize(text)


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "\u200b\ufeff"])
def test_empty_text_raises(text: str) -> None:
    with pytest.raises(EmptyTextError):
        tokenize(text)
    with pytest.raises(EmptyTextError):
        length_units(text)


def test_normalisation() -> None:
    assert normalize_text("Ｈｅｌｌｏ，　ｗｏｒｌｄ！") == "Hello, world!"
    assert normalize_text("“Hi”; don’t\t\n go") == '"Hi", don\'t go'
    assert normalize_text("好的。真的、假的……") == "好的.真的,假的..."
    assert normalize_text("a\u200bb\u00adc") == "abc"


def test_numbers_read_in_the_language_around_them() -> None:
    assert normalize_text("I have 3 apples") == "I have three apples"
    assert normalize_text("in 1999, paid $5.50") == "in nineteen ninety-nine, paid five dollars and fifty cents"
    assert normalize_text("the 21st century, 50%") == "the twenty-first century, fifty percent"
    assert normalize_text("我有3个苹果") == "我有三个苹果"
    assert normalize_text("2024年卖了1,205台, 增长3.5%") == "二零二四年卖了一千二百零五台, 增长百分之三点五"
    assert normalize_text("10:05开会") == "十点零五分开会"
    assert normalize_text("2000人") == "两千人"
    assert normalize_text("{hang2}3") == "{hang2}三"  # inline pinyin untouched, its context is Chinese
    assert tokenize("3个", verbalize_numbers=False) == ["3", S, "ge4"]


def test_detect_language() -> None:
    assert detect_language("你好世界") == "zh"
    assert detect_language("Some call me nature.") == "en"
    assert detect_language("我爱Python") == "mixed"
    assert detect_language("{ni3 hao3}") == "zh"
    assert detect_language("こんにちは世界") == "ja"
    assert detect_language("Guten Abend, meine Damen und Herren") == "de"
    assert detect_language("123 !!") == "unknown"


# ---------------------------------------------------------------------------------------------- units
def test_length_units() -> None:
    assert length_units("你好世界") == 4
    assert length_units("hello") == 5
    assert length_units("Hello, world!") == 10  # punctuation and spaces count nothing by default
    assert length_units("Hello, world!", punctuation_weight=0.5, space_weight=0.25) == 10 + 2 * 0.5 + 0.25
    assert length_units("你好，hi", syllable_weight=3.0) == 2 * 3 + 2
    assert length_units("我有3个") == 4  # the number counts as the syllable it is read as
    assert length_units("3 cats") == len("threecats")


# ---------------------------------------------------------------------------------------------- vocab
CORPUS = ["你好，世界。", "Hello, world!", "我爱Python编程", "银行{xing2}的行长", "say {ni3 hao3}!"]


@pytest.mark.parametrize("text", CORPUS)
def test_round_trip(text: str) -> None:
    vocab = Vocab.build(CORPUS)
    symbols = tokenize(text)
    ids = vocab.encode(symbols)
    assert all(0 <= i < len(vocab) for i in ids)
    assert vocab.decode(ids) == symbols


def test_build_is_deterministic_and_space_first() -> None:
    vocab = Vocab.build(CORPUS)
    assert vocab.symbols[0] == S
    assert Vocab.build(list(reversed(CORPUS))) == vocab
    assert vocab.symbols[1:] == sorted(vocab.symbols[1:])
    assert {"ni2", "hao3", "xing2", "P", "!"} <= set(vocab)
    with pytest.raises(EmptyTextError, match="text #1"):
        Vocab.build(["好", " "])


def test_save_load_identity(tmp_path) -> None:
    vocab = Vocab.build(CORPUS)
    path = vocab.save(tmp_path / "vocab.txt")
    assert path.read_text(encoding="utf-8").split("\n")[0] == S
    assert Vocab.load(path) == vocab
    assert Vocab.load(tmp_path) == vocab  # a directory means its vocab.txt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vocab.txt"]  # no temp file left behind


@pytest.mark.parametrize(
    ("content", "fragment"),
    [("a\n \n", "line 1 must be a single space"), (" \na\nb\na\n", "'a' on line 4 repeats line 2"),
     (" \na\n\nb\n", "line 3 is empty")],
)
def test_load_rejects_broken_files(tmp_path, content: str, fragment: str) -> None:
    path = tmp_path / "vocab.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(VocabFormatError, match=fragment):
        Vocab.load(path)


def test_extend_appends_at_the_end(tmp_path) -> None:
    vocab = Vocab.build(CORPUS)
    before = vocab.symbols
    added = vocab.extend(["ni2", "zhuang4", "Z", "zhuang4"])
    assert added == ["zhuang4", "Z"]
    assert vocab.symbols == before + ["zhuang4", "Z"]
    assert vocab.encode(["zhuang4"]) == [len(before)]
    assert Vocab.load(vocab.save(tmp_path / "v.txt")) == vocab


def test_unknown_symbols_warn_by_name_and_are_dropped() -> None:
    vocab = Vocab.build(["Hello world"])
    with pytest.warns(UnknownSymbolWarning, match=r"'X'.*'😀' \(x2\)"):
        ids = vocab.encode(tokenize("HelXlo 😀 😀 world"))
    assert vocab.decode(ids) == tokenize("Hello world")  # dropped, and the doubled space collapsed


def test_only_unknown_symbols_raise() -> None:
    vocab = Vocab.build(["Hello world"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(UnsupportedTextError, match="'ni2', 'hao3', '😀'"):
            vocab.encode(tokenize("你好 😀"))
    with pytest.raises(EmptyTextError):
        vocab.encode([])
    assert issubclass(UnsupportedTextError, TextError)


def test_decode_padding_and_bad_ids() -> None:
    vocab = Vocab.build(["ab"])
    assert vocab.decode(torch.tensor([1, 2, -1, -1])) == ["a", "b"]
    with pytest.raises(IndexError, match="id 3"):
        vocab.decode([3])


def test_encode_batch_pads_with_minus_one() -> None:
    vocab = Vocab.build(CORPUS)
    texts = ["你好", "Hello, world!"]
    batch = encode_batch(texts, vocab)
    lengths = [len(vocab.encode_text(t)) for t in texts]
    assert batch.dtype == torch.long and batch.shape == (2, max(lengths))
    for row, (text, length) in enumerate(zip(texts, lengths)):
        assert batch[row, :length].tolist() == vocab.encode_text(text)
        assert (batch[row, length:] == -1).all()
    with pytest.raises(TextError):
        encode_batch([], vocab)
