"""Korean prompts: Hangul detection, ad copy kept from the model, and the three backends."""

from __future__ import annotations

import io
import json

import pytest

from editor.translate import Glossary, Translator, contains_hangul, split_ad_copy, translate_prompt
from models.locate import env_var_for
from models.registry import get_spec
from models.translation import MarianTranslator

# Parallel toy corpus for the tiny Marian tokenizers (the model itself is random: it outputs gibberish).
_KO = ["따뜻한 카페의 라떼", "맛있는 라면 한 그릇", "신메뉴 출시 할인 이벤트", "커피 한 잔과 케이크", "꽃집 외관과 꽃다발",
       "미용실 인테리어", "나무 테이블 위의 아메리카노"]
_EN = ["a latte in a warm cafe", "a bowl of delicious ramen", "new menu launch sale event", "a cup of coffee and cake",
       "flower shop front and bouquet", "beauty salon interior", "americano on a wooden table"]


def _train_spm(lines: list[str], path) -> None:
    import sentencepiece as spm

    buffer = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines * 4), model_writer=buffer, vocab_size=80, model_type="unigram",
        character_coverage=1.0, num_threads=1, hard_vocab_limit=False,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, minloglevel=2,
    )
    path.write_bytes(buffer.getvalue())


@pytest.fixture(scope="module")
def tiny_marian_dir(tmp_path_factory):
    """A real MarianMTModel + MarianTokenizer folder, tiny and random, written with save_pretrained."""
    import sentencepiece as spm
    import torch
    from transformers import MarianConfig, MarianMTModel, MarianTokenizer

    work = tmp_path_factory.mktemp("marian-build")
    _train_spm(_KO, work / "source.spm")
    _train_spm(_EN, work / "target.spm")
    vocab: dict[str, int] = {}
    for name in ("source.spm", "target.spm"):  # Marian shares one vocabulary between both sides
        sp = spm.SentencePieceProcessor(model_file=str(work / name))
        for i in range(sp.get_piece_size()):
            vocab.setdefault(sp.id_to_piece(i), len(vocab))
    (work / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    tokenizer = MarianTokenizer(source_spm=str(work / "source.spm"), target_spm=str(work / "target.spm"),
                                vocab=str(work / "vocab.json"))
    config = MarianConfig(
        vocab_size=len(vocab), d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32, max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.pad_token_id, forced_eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("opus-mt-ko-en")
    MarianMTModel(config).eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


class RecordingMarian(MarianTranslator):
    """The real translator, remembering what it was asked to translate."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.inputs: list[str] = []

    def translate(self, texts):
        self.inputs.extend(texts)
        return super().translate(texts)


@pytest.mark.parametrize(
    "text, expected",
    [("카페", True), ("a latte", False), ("latte 라떼", True), ("ㅋㅋ", True), ("カフェ 咖啡", False), ("", False)],
)
def test_hangul_detection(text, expected):
    assert contains_hangul(text) is expected


def test_quoted_ad_copy_is_split_off_in_every_quote_style():
    prompt, copy = split_ad_copy('카페 포스터 "신메뉴 출시", “오픈 기념” 「20% 할인」 and ‘Grand Open’')
    assert copy == ("신메뉴 출시", "오픈 기념", "20% 할인", "Grand Open")
    assert prompt == "카페 포스터, and"
    assert split_ad_copy("the cafe's latte") == ("the cafe's latte", ())


def test_glossary_translates_ad_terms_and_puts_them_in_english_order():
    english, unknown = Glossary.load().translate("따뜻한 분위기의 카페에서 딸기 케이크, 자연광")
    assert english == "a strawberry cake in a cafe with a warm atmosphere, natural light"
    assert unknown == ()


def test_a_word_made_of_thousands_of_particles_is_read_without_running_out_of_stack():
    """"가" is a particle: a word of 3,000 of them was 3,000 nested calls (RecursionError, found by
    the CLI fuzz test); the chain is now worked out place by place, with the same choices."""
    glossary = Glossary.load()
    assert glossary._particle_chain("가" * 3000) == ["가"] * 3000
    assert glossary._particle_chain("에서의") == ["에서의"] and glossary._particle_chain("xyz") is None
    glossary.translate("카페 " + "가" * 3000)  # a result, whatever it is, not a crash


def test_glossary_reads_compounds_and_phrases_but_not_inside_unknown_words():
    glossary = Glossary.load()
    assert glossary.translate("카페라떼")[0] == "cafe latte"
    assert glossary.translate("나무 테이블 위에 아이스 아메리카노")[0] == "an iced americano on a wooden table"
    english, unknown = glossary.translate("자동차 광고")  # 차 alone means tea; it must not fire inside 자동차
    assert (english, unknown) == ("advertisement", ("자동차",))


def test_glossary_backend_offline_reports_both_texts_and_what_it_left_out(monkeypatch, tmp_path):
    monkeypatch.setenv(env_var_for("opus-mt-ko-en"), str(tmp_path / "nowhere"))
    result = translate_prompt('맛있는 라면 포스터 "오늘만 반값" 우주선', get_spec("flux-dev"))
    assert result.backend == "glossary"
    assert result.text == "delicious ramen poster"
    assert result.ad_copy == ("오늘만 반값",)
    assert result.untranslated == ("우주선",)
    report = result.to_report()
    assert report["source_text"] == '맛있는 라면 포스터 "오늘만 반값" 우주선'
    assert report["text"] == "delicious ramen poster" and report["hangul_detected"] is True
    assert any("python -m models download opus-mt-ko-en" in note for note in report["notes"])


def test_models_that_read_korean_get_the_prompt_as_written_minus_the_ad_copy():
    result = translate_prompt('따뜻한 카페 "할인 이벤트"', get_spec("z-image-turbo"))
    assert (result.backend, result.text, result.ad_copy) == ("pass-through", "따뜻한 카페", ("할인 이벤트",))


def test_english_prompts_are_not_translated():
    result = translate_prompt('a latte in a cafe "SALE"', "tiny")
    assert (result.backend, result.text, result.ad_copy) == ("none", "a latte in a cafe", ("SALE",))


def test_marian_backend_loads_through_models_locate_and_never_sees_the_ad_copy(monkeypatch, tiny_marian_dir):
    monkeypatch.setenv(env_var_for("opus-mt-ko-en"), str(tiny_marian_dir))
    assert MarianTranslator().available()
    marian = RecordingMarian(num_beams=2, max_new_tokens=8)
    translator = Translator(marian=marian)
    result = translator.translate('따뜻한 카페의 라떼 "신메뉴 출시"', get_spec("tiny"))

    assert result.backend == "marian"
    assert marian.loaded and marian.location.source == "env"
    assert marian.inputs == ["따뜻한 카페의 라떼"]
    assert result.ad_copy == ("신메뉴 출시",)
    report = result.to_report()
    assert report["source_text"] == '따뜻한 카페의 라떼 "신메뉴 출시"' and report["hangul_detected"]
    assert isinstance(report["text"], str) and "신메뉴" not in report["text"]


def test_translator_finds_marian_by_itself_when_it_is_installed(monkeypatch, tiny_marian_dir):
    monkeypatch.setenv(env_var_for("opus-mt-ko-en"), str(tiny_marian_dir))
    assert translate_prompt("맛있는 라면", "flux-schnell").backend == "marian"
    assert translate_prompt("맛있는 라면", "flux-schnell", Translator(use_marian=False)).backend == "glossary"


def test_a_broken_marian_folder_falls_back_to_the_glossary_with_a_note(monkeypatch, tmp_path):
    broken = tmp_path / "opus-mt-ko-en"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json", encoding="utf-8")
    monkeypatch.setenv(env_var_for("opus-mt-ko-en"), str(broken))
    result = translate_prompt("맛있는 라면", "flux-dev")
    assert result.backend == "glossary" and result.text == "delicious ramen"
    assert any(note.startswith("Marian translation failed") for note in result.notes)


def test_a_korean_prompt_that_loses_every_word_is_refused_with_the_words_it_could_not_translate():
    from editor.errors import InputError
    from editor.translate import require_words

    emptied = Translator(use_marian=False, glossary=Glossary({}, [])).translate("뭔지모를 말", get_spec("tiny"))
    assert emptied.text == ""
    with pytest.raises(InputError) as refused:
        require_words(emptied, "target prompt")
    assert refused.value.key == "untranslated" and "뭔지모를" in str(refused.value)
    kept = Translator(use_marian=False).translate("나무 테이블 위의 녹차 한 잔", get_spec("tiny"))
    assert require_words(kept, "target prompt") is kept
    korean = Translator(use_marian=False).translate("선글라스를 쓴 얼굴", get_spec("tiny-flux2"))
    assert require_words(korean, "target prompt").text == "선글라스를 쓴 얼굴"  # read as written
