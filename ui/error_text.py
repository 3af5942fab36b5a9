"""Error messages in the user's language: the domain's errors carry a catalogue key and values
(`models.errors.IntactError`); here are the texts for languages other than English (English shows
the domain's own message, which says the same with its details)."""

from __future__ import annotations

import logging

log = logging.getLogger("intact.ui")

# Request field names as a shop owner reads them.
FIELDS_KO = {
    "steps": "단계 수", "skip_steps": "건너뛸 단계 수", "guidance": "가이던스", "inversion_guidance": "역변환 가이던스",
    "attn_scale": "배경 주의 강도", "seed": "시드", "feather_px": "경계 부드럽게", "kv_cache": "KV 캐시 방식",
    "style": "스타일", "style_weight": "스타일 강도", "strength": "변형 강도", "width": "너비", "height": "높이",
    "num_images": "이미지 수", "number of images": "이미지 수", "prompt": "프롬프트", "source prompt": "원본 설명",
    "target prompt": "목표 설명", "negative prompt": "제외할 내용", "model": "모델", "remover": "배경 제거 방식",
    "cut-out method": "배경 제거 방식", "KV cache mode": "KV 캐시 방식", "style weight": "스타일 강도",
    "headline": "제목", "subline": "부제", "price": "가격", "cta": "버튼 문구",
    "skip_steps (at most steps - 1)": "건너뛸 단계 수(단계 수 - 1 이하)",
    "old_price": "이전 가격", "background prompt": "배경 설명", "ad format": "광고 규격", "scale": "크기 비율",
    "preset": "프리셋", "backdrop": "배경", "accent": "강조 색",
    # how the image loader names a picture that has no file name
    "the uploaded file": "올린 파일", "the image": "이미지",
    "text size": "글자 크기", "product x": "상품 가로 위치", "product y": "상품 세로 위치", "product size": "상품 크기",
    "grow": "선택 넓히기", "feather": "경계 부드럽게",
}

ERRORS_KO = {
    "unknown_model": "알 수 없는 모델입니다: '{name}'.",
    "model_missing": "'{name}' 모델({title})이 이 컴퓨터에 없습니다. 관리자에게 모델 설치를 요청하거나 다른 모델을 고르세요.",
    "model_corrupt": "모델 파일을 읽을 수 없습니다(파일이 손상되었거나 덜 받아졌습니다). 관리자에게 모델을 다시 받도록 요청하세요.",
    "model_cannot": "{model} 모델로는 이 작업을 할 수 없습니다. 가능한 모델: {able}.",
    "out_of_memory": "메모리가 부족해 작업을 마치지 못했습니다. 더 작은 사진이나 더 적은 단계 수로 다시 시도하세요.",
    "cancelled": "작업을 취소했습니다. 아무것도 저장되지 않았습니다.",
    "bad_whole": "{name} 값은 {low}부터 {high} 사이의 정수여야 합니다(입력: {value}).",
    "bad_number": "{name} 값은 {low}부터 {high} 사이의 숫자여야 합니다(입력: {value}).",
    "not_text": "{name}에는 글자를 입력하세요.",
    "not_bool": "{name} 값은 켜기/끄기 중 하나여야 합니다.",
    "text_too_long": "{name}이(가) 너무 깁니다({length}자, 최대 {limit}자).",
    "text_empty": "{name}을(를) 입력하세요.",
    "replica_lost_saving": "결과를 저장하는 중에 서버가 다시 시작했습니다. 갤러리에서 찾아보고, 없으면 다시 실행하세요.",
    "replicas_restarting": "서버가 다시 시작하는 중이라 작업을 실행하지 못했습니다. 1분 뒤에 다시 시도하세요.",
    "not_a_colour": "'{value}'은(는) 색이 아닙니다. 색 선택기로 고르세요.",
    "batch_zip_bomb": "zip 파일을 받을 수 없습니다: {name}의 압축을 풀면 사진보다 훨씬 큽니다(압축 폭탄일 수 있음).",
    "batch_zip_member": "zip 파일이 손상되었습니다: {name}의 압축을 풀 수 없습니다.",
    "batch_csv_broken": "CSV 파일 {line}번째 줄을 읽을 수 없습니다: 칸이 너무 길거나 깨졌습니다.",
    "batch_csv_too_large": "CSV 파일이 너무 큽니다.",
    "brand_not_saved": "브랜드 키트를 저장하지 못했습니다: 브랜드 폴더에 쓸 수 없습니다. 관리자에게 알려 주세요.",
    "text_bad_characters": "{name}에 깨진 글자가 있습니다(올바른 유니코드 글자가 아님). 다시 입력하세요.",
    "bad_choice": "{name}에서 '{value}'은(는) 고를 수 없는 값입니다.",
    "no_image": "먼저 사진을 올리세요.",
    "no_product": "먼저 상품 사진을 올리세요.",
    "no_mask": "바꿀 부분을 붓으로 먼저 칠하세요.",
    "bad_mask": "마스크에 잘못된 값이 있습니다. 다시 칠해 주세요.",
    "prompt_or_preset": "프롬프트를 쓰거나 프리셋을 고르세요.",
    "prompt_only_ad_copy": "그릴 내용이 남지 않았습니다(따옴표 안의 광고 문구만 있나요?). 그림을 설명해 주세요.",
    "bad_side": "{name}은(는) {low}~{high} 사이의 {multiple}의 배수여야 합니다(입력: {value}).",
    "width_and_height": "너비와 높이를 둘 다 입력하거나 둘 다 비워 두세요.",
    "one_background": "배경은 하나만 고르세요.",
    "preset_with_upload": "프리셋은 생성 배경에만 쓸 수 있습니다. 올린 배경 사진과 함께 쓸 수 없습니다.",
    "no_generation_model": "배경을 생성할 모델이 없습니다. 배경 사진을 올리거나 준비된 배경을 고르세요.",
    "background_needs_prompt": "생성 배경에는 설명이나 프리셋이 필요합니다.",
    "not_saveable": "결과를 저장하지 못했습니다.",
    "cutout_empty": "누끼에 제품이 하나도 남지 않았습니다. 추가 브러시로 제품을 칠해 주세요.",
    "unknown_remover": "알 수 없는 누끼 방식입니다: '{name}'. 다음 중에서 고르세요: {known}.",
    "brush_mask_size": "'{brush}' 브러시 마스크 크기({width}×{height})가 사진 크기({photo_width}×{photo_height})와 다릅니다.",
    "cutout_too_small": "오프라인 누끼에는 16×16 픽셀 이상의 컬러 사진이 필요합니다.",
    "download_failed": "'{name}'을(를) 내려받지 못했습니다.",
    "new_product": "새 상품 사진입니다. 먼저 누끼를 따 주세요.",
    "no_formats": "광고 규격을 하나 이상 고르세요.",
    "untranslated": "{name}의 단어를 영어로 옮기지 못했습니다({words}). 영어 칸에 직접 쓰거나 한국어를 읽는 모델을 고르세요.",
    "no_background_image": "배경 사진을 올리거나 다른 배경 종류를 고르세요.",
    "unknown_style": "알 수 없는 스타일입니다: '{name}'. 사용할 수 있는 스타일: {known}.",
    # pictures: every upload is read by editor.images (name: the file's name, or "the uploaded file")
    "image_missing": "이미지가 없습니다. 먼저 사진을 올리세요.",
    "image_unreadable": "{name}은(는) 읽을 수 있는 이미지가 아닙니다(PNG, JPEG, WebP, BMP, TIFF 등을 올리세요).",
    "image_damaged": "{name} 파일이 손상되었거나 끝까지 받아지지 않아 읽을 수 없습니다.",
    "image_too_large": "{name} 이미지가 너무 큽니다({megapixels}메가픽셀, 최대 {limit}메가픽셀). 더 작은 이미지를 올리세요.",
    "image_empty": "{name}에 픽셀이 없습니다(빈 이미지).",
    "image_memory": "{name}을(를) 읽기에는 이 컴퓨터의 남은 메모리가 부족합니다.",
    "image_mode": "이 색 형식({mode})의 이미지는 쓸 수 없습니다. RGB PNG나 JPEG로 저장해 올리세요.",
    "image_invalid_values": "{name}에 잘못된 값(NaN 또는 무한대)이 있습니다.",
    "image_array_shape": "이미지 배열의 모양이 잘못되었습니다({shape}).",
    "image_array_dtype": "이미지 배열은 숫자여야 합니다({dtype}).",
    "image_bad_source": "이미지로 쓸 수 없는 값입니다({kind}).",
    "image_is_folder": "{name}은(는) 폴더입니다. 이미지 파일을 고르세요.",
    "image_not_a_file": "{name}은(는) 일반 파일이 아닙니다(파이프나 장치). 이미지 파일을 고르세요.",
    "image_permission": "{name}을(를) 읽을 권한이 없습니다.",
    "image_cannot_open": "{name}을(를) 열 수 없습니다.",
    "file_not_found": "파일을 찾을 수 없습니다: {name}.",
    "mask_size": "마스크를 적용할 이미지가 너무 작습니다({width}×{height}).",
    # ad requests
    "bad_formats": "광고 규격은 규격 이름의 목록이어야 합니다.",
    "too_many_formats": "광고 규격이 너무 많습니다({count}개, 최대 {limit}개).",
    "backdrop_broken": "배경 '{name}'의 파일이 손상되어 쓸 수 없습니다. 다른 배경을 고르세요.",
    # data files and styles
    "unknown_preset": "알 수 없는 프리셋입니다: '{name}'. 사용할 수 있는 프리셋: {known}.",
    "preset_broken": "프리셋 '{name}'의 파일이 손상되어 쓸 수 없습니다. 관리자에게 알려 주세요.",
    "preset_file": "프리셋 파일 {name}의 {line}번째 줄에 문제가 있습니다: {detail}",
    "style_broken": "스타일 '{name}'의 파일이 손상되어 쓸 수 없습니다. 관리자에게 알려 주세요.",
    "style_not_installed": "스타일 '{name}'이(가) 이 컴퓨터에 설치되어 있지 않습니다. 관리자에게 설치를 요청하세요.",
    "lora_not_safetensors": "스타일 파일 {name}은(는) .safetensors 형식이 아니어서 쓸 수 없습니다.",
    "lora_unreadable": "스타일 파일 {name}을(를) 읽을 수 없습니다(손상되었거나 형식이 다릅니다).",
    "lora_empty": "스타일 파일 {name}에 LoRA 가중치가 없습니다.",
    "lora_invalid_values": "스타일 파일 {name}에 잘못된 숫자(NaN 또는 무한대)가 있어 적용하지 않았습니다. 적용하면 검은 그림이 나옵니다.",
    # results
    "blank_output": "모델이 빈(검은) 그림을 만들었습니다(계산이 넘쳤습니다). 저장하지 않았습니다. 다른 시드나 더 낮은 스타일 강도로, 또는 스타일 없이 다시 시도하세요.",
    "disk_full": "디스크가 가득 차서 결과를 저장하지 못했습니다(반쯤 쓰인 파일은 남지 않았습니다). 공간을 확보한 뒤 다시 시도하세요.",
    "output_not_writable": "저장 폴더에 쓸 수 없어 결과를 저장하지 못했습니다. 관리자에게 알려 주세요.",
    "output_not_folder": "저장 위치가 폴더가 아니어서 결과를 저장하지 못했습니다. 관리자에게 알려 주세요.",
    # ads: backdrops, layouts, brand kits, batches
    "ad_unknown_backdrop": "알 수 없는 배경입니다: '{name}'.",
    "ad_unknown_font": "이 컴퓨터에 없는 글꼴입니다: '{font}'.",
    "ad_unknown_format": "알 수 없는 광고 규격입니다: '{name}'.",
    "ad_bad_layout": "레이아웃이 올바르지 않습니다. 레이아웃 파일을 확인하세요.",
    "ad_layout_unreadable": "레이아웃 파일을 읽을 수 없습니다.",
    "ad_bad_placement": "제품 위치와 크기는 0과 1 사이의 값이어야 합니다.",
    "ad_bad_position": "{format} 규격에서는 글을 그 위치에 놓을 수 없습니다.",
    "ad_no_room_for_text": "{format} 규격에 글이 들어갈 자리가 없습니다. 제품을 줄이거나 옮기거나, 문구를 줄이세요.",
    "ad_no_format": "광고 규격을 하나 이상 고르세요.",
    "ad_bad_scale": "크기는 0.05부터 1 사이여야 합니다.",
    "ad_needs_text": "광고에는 최소한 제목이 필요합니다.",
    "bad_colour": "'{value}'은(는) #1a2b3c 같은 색이 아닙니다.",
    "brand_needs_name": "가게 이름을 입력하세요(글자나 숫자가 있어야 합니다).",
    "brand_name_too_long": "가게 이름은 {limit}자까지입니다.",
    "brand_bad_logo_position": "로고 위치를 목록에서 고르세요.",
    "brand_logo_empty": "로고가 완전히 투명합니다. 다른 로고를 올리세요.",
    "brand_not_found": "'{name}' 브랜드 키트가 저장되어 있지 않습니다.",
    "brand_damaged": "'{name}' 브랜드 키트가 손상되었습니다. 다시 저장하세요.",
    "batch_too_many": "한 번에 상품 사진은 {limit}장까지입니다.",
    "batch_bad_zip": "zip 파일이 손상되었거나 zip 파일이 아닙니다.",
    "batch_zip_too_large": "zip 안의 사진이 너무 큽니다(압축을 풀면 1GB가 넘습니다).",
    "batch_unreadable": "{name} 파일을 읽을 수 없습니다.",
    "batch_no_products": "상품 사진(또는 사진 zip)을 먼저 올리세요.",
    "batch_csv_encoding": "CSV 파일은 UTF-8이나 CP949로 저장해야 합니다.",
    "batch_csv_unreadable": "CSV 파일을 읽을 수 없습니다.",
    "batch_csv_empty": "CSV 파일이 비어 있습니다.",
    "batch_csv_columns": "CSV에는 'file'(파일) 열과 'headline'(제목) 열이 있어야 합니다.",
    "batch_no_items": "문구가 정해진 상품 사진이 없습니다. 공통 문구를 쓰거나 CSV에 사진을 적으세요.",
    # tap to select (editor.select)
    "select_bad_point": "점은 사진의 픽셀 위치 X,Y로 적어 주세요(예: 420,310). 입력: {value}.",
    "select_point_not_number": "점 ({x}, {y})은(는) 사진 위의 위치가 아닙니다. x와 y는 숫자여야 합니다.",
    "select_point_outside": "점 ({x}, {y})이(가) {width}×{height} 사진 밖에 있습니다. 사진 안을 눌러 주세요.",
    "select_no_point": "먼저 고를 부분을 한 번 눌러 주세요.",
    "select_too_many_points": "점이 너무 많습니다({count}개, 최대 {limit}개). 되돌리기로 몇 개 지워 주세요.",
    "select_cut_first": "먼저 '누끼 따기'를 누른 뒤 상품을 눌러 주세요.",
    "select_photo_changed": "상품 사진이 바뀌었습니다. '상품 사진 가져오기'를 다시 눌러 주세요.",
}

# Errors without a catalogue key (rare: a check deep in a library) still reach the user in their
# language; the English message, with its details, goes to the server's log.
GENERIC_KO = "요청을 처리하지 못했습니다. 사진과 입력값을 확인한 뒤 다시 시도해 주세요."
GENERIC_FIELD_KO = "'{field}' 값을 처리하지 못했습니다. 입력값을 확인한 뒤 다시 시도해 주세요."

ERRORS = {"ko": ERRORS_KO}
FIELDS = {"ko": FIELDS_KO}
GENERIC = {"ko": (GENERIC_KO, GENERIC_FIELD_KO)}


def error_text(exc: BaseException, lang: str) -> str:
    """The error as the user should read it in `lang`; the domain's English message otherwise."""
    template = ERRORS.get(lang, {}).get(getattr(exc, "key", None) or "")
    if template is None:
        if lang not in GENERIC:
            return str(exc)
        log.info("no %s text for error key %r: %s", lang, getattr(exc, "key", None), exc)
        plain, with_field = GENERIC[lang]
        field = FIELDS.get(lang, {}).get(getattr(exc, "field", None) or "")
        return with_field.format(field=field) if field else plain
    fields = FIELDS.get(lang, {})
    values = {k: fields.get(v, v) if isinstance(v, str) else v for k, v in (getattr(exc, "values", None) or {}).items()}
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return str(exc)
