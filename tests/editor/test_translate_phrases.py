"""Korean shop prompts without a translator model: the word list puts phrases into English order
(postpositions, the genitive, counters), says how sure it is, and never hides what it left out."""

from __future__ import annotations

import pytest

from editor.translate import HIGH, LOW, Glossary, Translator, translate_prompt
from models.registry import get_spec

# Prompts a shop owner writes, and the English the text encoder should get.
SHOP_PHRASES = [
    ("나무 테이블 위의 커피 한 잔", "a cup of coffee on a wooden table"),  # the word-salad example
    ("커피 한 잔", "a cup of coffee"),
    ("따뜻한 카페의 라떼", "a latte in a warm cafe"),
    ("맛있는 라면 한 그릇", "a bowl of delicious ramen"),
    ("흰 배경 위의 향수 두 병", "two bottles of perfume on a white background"),
    ("흰색 배경의 운동화 한 켤레, 스튜디오 조명", "a pair of sneakers on a white background, studio lighting"),
    ("대리석 위에 놓인 립스틱", "a lipstick on marble"),
    ("대리석 테이블 위의 립스틱과 향수", "a lipstick and perfume on a marble table"),
    ("창가에서 커피 한 잔", "a cup of coffee by the window"),
    ("케이크와 함께 아메리카노", "an americano with a cake"),
    ("커피 한 잔과 케이크", "a cup of coffee and cake"),
    ("초콜릿 케이크 한 조각과 아메리카노", "a slice of chocolate cake and americano"),
    ("꽃집 앞의 꽃다발", "a bouquet in front of a flower shop"),
    ("분식집의 떡볶이 한 접시", "a plate of tteokbokki in a snack bar"),
    ("햇살이 비치는 나무 테이블 위 크루아상 두 개", "two croissants on a sunlit wooden table"),
    ("사과 세 개", "three apples"),
    ("빈티지 느낌의 옷가게 마네킹", "a clothing store mannequin with a vintage feel"),
    ("크리스마스 분위기의 베이커리 외관", "a bakery storefront with a Christmas atmosphere"),
    ("고양이와 함께 카페에서 커피", "coffee in a cafe with a cat"),
    ("맛있는 치킨과 맥주 두 잔", "delicious fried chicken and two cups of beer"),
    ("미용실 인테리어, 밝은 조명", "beauty salon interior, bright lighting"),
    ("신메뉴 딸기 라떼 포스터", "new menu item strawberry latte poster"),
    ("아늑한 카페 창가에 놓인 카푸치노 한 잔", "a cup of cappuccino in a cozy cafe by the window"),
]


@pytest.fixture(scope="module")
def glossary():
    return Glossary.load()


@pytest.mark.parametrize("korean, english", SHOP_PHRASES)
def test_common_shop_phrases_come_out_in_english_order(glossary, korean, english):
    assert glossary.translate(korean) == (english, ())


def test_english_words_and_numbers_in_a_korean_prompt_are_kept(glossary):
    assert glossary.translate("나무 테이블 위의 espresso") == ("an espresso on a wooden table", ())
    assert glossary.translate("20% 할인, 커피") == ("20% discount, coffee", ())


def test_the_glossary_result_says_it_is_word_by_word_and_editable():
    result = translate_prompt("나무 테이블 위의 커피 한 잔", get_spec("flux-dev"), Translator(use_marian=False))
    assert (result.backend, result.text, result.confidence) == ("glossary", "a cup of coffee on a wooden table", HIGH)
    assert result.editable
    assert [n.key for n in result.notices] == ["translate.word_by_word"]
    assert "translator model" in result.notices[0].message and "\n" not in result.notices[0].message
    report = result.to_report()
    assert report["confidence"] == HIGH and report["editable"] and report["notices"][0]["code"] == "word_by_word"


def test_words_the_glossary_does_not_know_lower_the_confidence_and_are_named():
    result = translate_prompt("우주선 위의 커피", "flux-schnell", Translator(use_marian=False))
    assert result.text == "coffee" and result.untranslated == ("우주선",) and result.confidence == LOW
    left_out = [n for n in result.notices if n.code == "left_out"]
    assert left_out and left_out[0].values == {"words": "우주선"} and left_out[0].key == "translate.left_out"


def test_the_users_own_english_replaces_the_guess():
    result = translate_prompt("나무 테이블 위의 커피 한 잔", "flux-dev", Translator(use_marian=False))
    edited = result.edited("  an espresso   on an oak table ")
    assert (edited.text, edited.backend, edited.confidence, edited.editable) == ("an espresso on an oak table", "edited",
                                                                                "exact", False)
    assert edited.source_text == result.source_text and edited.notices == ()


def test_models_that_read_korean_get_it_as_written_with_nothing_to_check():
    result = translate_prompt("나무 테이블 위의 커피 한 잔", "z-image-turbo")
    assert (result.backend, result.text, result.confidence, result.editable) == (
        "pass-through", "나무 테이블 위의 커피 한 잔", "exact", False)
