"""Korean and English UI text.

Static labels use `t(key)` (a gr.I18n key: the browser translates it, Korean for Korean browsers).
Messages composed at run time (status lines, errors, reports) use `tr(lang, key, **values)` with
the language read from the request's Accept-Language header by `lang_of(request)`, so they match.
Every key exists in both dictionaries (tests/test_ui_i18n.py checks it).
"""

from __future__ import annotations

import gradio as gr

DEFAULT_LANG = "en"  # for browsers that prefer neither Korean nor English

EN: dict[str, str] = {
    # app
    "app.title": "Intact — photo & ad studio",
    "app.subtitle": "Edit a region of a photo while every other pixel stays exactly as it was; build ads for your shop.",
    "app.tiny_warning": "The default model is **tiny (random weights, for testing)**: results are noise by design. "
    "Fetch a real model to get real pictures (see the Status tab).",
    "tab.edit": "Edit",
    "tab.ad": "Ad",
    "tab.generate": "Generate",
    "tab.gallery": "Gallery",
    "tab.status": "Status",
    # common
    "common.model": "Model",
    "common.advanced": "Advanced options",
    "common.seed": "Seed",
    "common.steps": "Steps",
    "common.guidance": "Guidance",
    "common.examples": "Examples",
    "common.cancel": "Cancel",
    "common.cancelling": "Cancelling: the job stops at its next step.",
    "common.nothing_running": "Nothing is running.",
    "err.unexpected": "Something went wrong ({detail}). The details are in the server's log.",
    "err.out_of_memory": "Ran out of memory. Try a smaller photo or fewer steps.",
    "progress.prepare": "Reading the photo",
    "progress.save": "Saving",
    "progress.invert": "Inverting the source image",
    "progress.edit": "Editing",
    "progress.generate": "Generating",
    "progress.cutout": "Cutting out the product",
    "progress.background": "Making the background",
    "progress.format": "Rendering formats",
    "progress.done": "Finishing",
    "progress.load": "Loading the model",
    "model.missing_note": "⚠️ **The model `{name}` is not installed on this computer.** Pick another model, or see "
    "the Status tab for how to add it.",
    "model.not_here": "not installed",
    "model.non_commercial": "non-commercial licence: not for use in a shop's business",
    "model.random_weights": "random weights, for testing: pictures are noise-like by design",
    # edit tab
    "edit.image": "Image — paint over the area to change",
    "edit.source": "Source prompt (what the picture shows now)",
    "edit.source_ph": "e.g. a cup of coffee on a wooden table / 나무 테이블 위의 커피 한 잔",
    "edit.target": "Target prompt (what it should show)",
    "edit.target_ph": "e.g. a cup of green tea on a wooden table / 나무 테이블 위의 녹차 한 잔",
    "edit.invert": "Invert",
    "edit.run": "Edit",
    "edit.steps": "Steps",
    "edit.skip": "Skip steps",
    "edit.skip_info": "Higher keeps more of the original layout inside the painted area.",
    "edit.inv_guidance": "Inversion guidance",
    "edit.guidance": "Edit guidance",
    "edit.re_init": "Re-initialise the painted area",
    "edit.re_init_info": "Start the painted area from fresh noise: bigger changes, e.g. replacing an object.",
    "edit.attn_mask": "Attention mask (for removing objects)",
    "edit.attn_mask_info": "The background is recorded without looking at the painted object.",
    "edit.attn_scale": "Attention scale",
    "edit.kv_cache": "KV cache mode",
    "edit.kv_cache_info": "auto: chosen by the memory plan. device: fastest; cpu/fp8/int8: less memory; "
    "none: no inversion pass, more work per edit.",
    "edit.hint": "Upload a photo, paint over what should change, describe it, and press **Edit**. "
    "Pixels outside the paint are kept exactly.",
    "edit.compare": "Before / after",
    "edit.overlay": "Result with the edited area marked",
    "edit.download": "Download the result and its mask (PNG)",
    "edit.continue": "Continue editing from this result",
    "edit.report": "Report",
    "edit.history": "This session's edits",
    "edit.done": "Done",
    "edit.reused": "Inversion reused (no second inversion).",
    "edit.inverted": "Inversion: {seconds} s.",
    "edit.denoised": "Edit: {seconds} s, {steps} steps, KV cache {cache} ({mb} MiB).",
    "edit.translated": "“{source}” was sent as “{text}” ({backend}).",
    "edit.inversion_done": "Inverted in {seconds} s. Now write the target prompt and press Edit.",
    "edit.inversion_reused": "Already inverted for this image, mask and prompt: nothing to redo.",
    "edit.nothing_to_continue": "There is no result to continue from yet: run an edit first.",
    "edit.continued": "The result is now the image to edit. Paint the next area to change.",
    # ad tab
    "ad.product": "Product photo",
    "ad.cutout": "Cut out",
    "ad.cutout_editor": "Fix the cut-out: paint green to add, red to remove",
    "ad.cutout_preview": "Cut-out preview",
    "ad.cutout_done": "Cut out with {method}. If an edge is wrong, paint it green (product) or red (background).",
    "ad.background": "Background",
    "ad.bg_mode": "Background from",
    "ad.bg_upload": "an uploaded picture",
    "ad.bg_style": "a style",
    "ad.bg_prompt": "a generated picture (prompt or shop preset)",
    "ad.remover": "Cut-out method",
    "ad.fix_preview": "Apply the brush fixes to the preview",
    "ad.bg_around_product": "generated around the product",
    "ad.bg_model": "Model for generated backgrounds",
    "ad.scale": "Size",
    "ad.scale_info": "1 = the full format size; smaller renders faster previews.",
    "ad.new_product": "This is a new product photo: press Cut out first.",
    "ad.bg_image": "Background picture",
    "ad.bg_style_pick": "Style",
    "ad.bg_preset_pick": "Preset",
    "ad.bg_prompt_text": "Background prompt (Korean allowed)",
    "ad.copy": "Ad copy",
    "ad.headline": "Headline",
    "ad.subline": "Sub-line",
    "ad.price": "Price",
    "ad.cta": "Call to action",
    "ad.formats": "Formats",
    "ad.build": "Build the ad",
    "ad.previews": "All formats",
    "ad.files": "Download (each format and a zip of all)",
    "ad.done": "Built {count} formats in {seconds} s; re-ran: {nodes}.",
    "ad.no_product": "Upload a product photo first.",
    "ad.no_formats": "Choose at least one format.",
    # generate tab
    "gen.prompt": "Prompt (Korean allowed)",
    "gen.prompt_ph": "e.g. a latte with foam art in a bright cafe / 밝은 카페의 라떼",
    "gen.negative": "Negative prompt",
    "gen.preset": "Shop preset",
    "gen.no_preset": "(none)",
    "gen.lora": "LoRA style",
    "gen.no_lora": "(none)",
    "gen.lora_scale": "LoRA strength",
    "gen.init_image": "Starting image (optional: image-to-image)",
    "gen.strength": "Change strength (image-to-image)",
    "gen.width": "Width",
    "gen.height": "Height",
    "gen.count": "Pictures",
    "gen.run": "Generate",
    "gen.lora_not_installed": "weights not installed",
    "gen.lora_other_model": "for {base}",
    "gen.auto_info": "empty = from the preset or the model",
    "gen.seed_info": "empty = random (the seed used is in the report)",
    "gen.results": "Results",
    "gen.download": "Download (PNG)",
    "gen.prompt_used": "Prompt sent to the model",
    "gen.done": "{count} picture(s) in {seconds} s with {model}.",
    "gen.no_prompt": "Write a prompt or choose a preset.",
    # gallery tab
    "gallery.task_edit": "Edit",
    "gallery.task_ad": "Ad",
    "gallery.task_generate": "Generated",
    "gallery.task_cutout": "Cut-out",
    "gallery.refresh": "Refresh",
    "gallery.selected": "Selected",
    "gallery.open_edit": "Open in the Edit tab",
    "gallery.open_generate": "Open in the Generate tab (image-to-image)",
    "gallery.saved": "Saved results",
    "gallery.params": "Parameters",
    "gallery.no_such": "There is no saved result number {index} ({count} saved).",
    # status tab
    "status.models": "Models",
    "status.refresh": "Refresh",
    "status.available": "available",
    "status.missing": "missing",
    "status.built_in": "built in code (random weights, for testing)",
    "status.fetch_with": "fetch with: {command}",
    "status.col_model": "Model",
    "status.col_kind": "Kind",
    "status.col_state": "State",
    "status.col_size": "Size",
    "status.col_where": "Where / how to get it",
    "status.device": "Device",
    "status.memory": "Memory plan",
    "status.memory_plan": "For {model} at 1024×1024: KV cache **{kv}**, offload **{offload}**, VAE tiling **{tiling}**. {why}",
    "status.memory_in_use": "In use now: model {model}, plan **{plan}** ({notes}).",
    "plan.line": "Memory plan: {why}",
    "plan.fallback_used": "(fallback used: the first plan ran out of memory)",
    "status.settings": "Settings",
    "status.settings_line": "Default model `{model}` · KV cache `{kv}` · memory mode `{memory}` · outputs in `{output}`",
}

KO: dict[str, str] = {
    "app.title": "Intact — 사진·광고 스튜디오",
    "app.subtitle": "사진의 원하는 부분만 고치고 나머지 픽셀은 그대로 지킵니다. 가게 광고도 만들 수 있습니다.",
    "app.tiny_warning": "기본 모델이 **tiny (무작위 가중치, 테스트용)** 입니다. 결과는 의도적으로 잡음처럼 보입니다. "
    "실제 그림을 얻으려면 실제 모델을 받으세요 (상태 탭 참고).",
    "tab.edit": "편집",
    "tab.ad": "광고",
    "tab.generate": "생성",
    "tab.gallery": "갤러리",
    "tab.status": "상태",
    "common.model": "모델",
    "common.advanced": "고급 설정",
    "common.seed": "시드",
    "common.steps": "단계 수",
    "common.guidance": "가이던스",
    "common.cancel": "취소",
    "common.cancelling": "취소하는 중입니다. 다음 단계에서 멈춥니다.",
    "common.nothing_running": "진행 중인 작업이 없습니다.",
    "common.examples": "예시",
    "err.unexpected": "문제가 발생했습니다({detail}). 자세한 내용은 서버 로그에 있습니다.",
    "err.out_of_memory": "메모리가 부족합니다. 더 작은 사진이나 더 적은 단계 수로 다시 시도하세요.",
    "progress.prepare": "사진 읽는 중",
    "progress.save": "저장 중",
    "progress.invert": "원본 이미지 역변환 중",
    "progress.edit": "편집 중",
    "progress.generate": "생성 중",
    "progress.cutout": "제품 누끼 따는 중",
    "progress.background": "배경 만드는 중",
    "progress.format": "규격별 렌더링 중",
    "progress.done": "마무리 중",
    "progress.load": "모델 불러오는 중",
    "model.missing_note": "⚠️ **`{name}` 모델이 이 컴퓨터에 설치되어 있지 않습니다.** 다른 모델을 고르거나 상태 탭에서 "
    "설치 방법을 확인하세요.",
    "model.not_here": "설치 안 됨",
    "model.non_commercial": "비상업용 라이선스: 가게 영업에 쓸 수 없습니다",
    "model.random_weights": "무작위 가중치, 테스트용: 결과는 의도적으로 잡음처럼 보입니다",
    "edit.image": "이미지 — 바꿀 부분을 붓으로 칠하세요",
    "edit.source": "원본 설명 (지금 사진에 있는 것)",
    "edit.source_ph": "예: 나무 테이블 위의 커피 한 잔",
    "edit.target": "목표 설명 (바꾼 뒤의 모습)",
    "edit.target_ph": "예: 나무 테이블 위의 녹차 한 잔",
    "edit.invert": "역변환",
    "edit.run": "편집",
    "edit.steps": "단계 수",
    "edit.skip": "건너뛸 단계",
    "edit.skip_info": "클수록 칠한 영역 안의 원래 구도를 더 많이 유지합니다.",
    "edit.inv_guidance": "역변환 가이던스",
    "edit.guidance": "편집 가이던스",
    "edit.re_init": "칠한 영역 새로 시작",
    "edit.re_init_info": "칠한 영역을 새 노이즈에서 시작합니다. 물체를 바꾸는 등 큰 변화에 좋습니다.",
    "edit.attn_mask": "어텐션 마스크 (물체 지우기용)",
    "edit.attn_mask_info": "배경을 기록할 때 칠한 물체를 보지 않습니다.",
    "edit.attn_scale": "어텐션 배율",
    "edit.kv_cache": "KV 캐시 방식",
    "edit.kv_cache_info": "auto: 메모리 계획이 선택. device: 가장 빠름. cpu/fp8/int8: 메모리 절약. "
    "none: 역변환 없이 편집마다 더 많이 계산.",
    "edit.hint": "사진을 올리고 바꿀 부분을 칠한 뒤 설명을 쓰고 **편집**을 누르세요. 칠하지 않은 픽셀은 그대로 유지됩니다.",
    "edit.compare": "전 / 후 비교",
    "edit.overlay": "편집 영역을 표시한 결과",
    "edit.download": "결과와 마스크 내려받기 (PNG)",
    "edit.continue": "이 결과에서 계속 편집",
    "edit.report": "보고서",
    "edit.history": "이번 세션의 편집 기록",
    "edit.done": "완료",
    "edit.reused": "역변환 재사용 (다시 역변환하지 않음).",
    "edit.inverted": "역변환: {seconds}초.",
    "edit.denoised": "편집: {seconds}초, {steps}단계, KV 캐시 {cache} ({mb} MiB).",
    "edit.translated": "“{source}”을(를) “{text}”(으)로 바꿔 보냈습니다 ({backend}).",
    "edit.inversion_done": "{seconds}초 만에 역변환했습니다. 이제 목표 설명을 쓰고 편집을 누르세요.",
    "edit.inversion_reused": "이 이미지·마스크·설명으로 이미 역변환했습니다. 다시 할 필요가 없습니다.",
    "edit.nothing_to_continue": "아직 이어서 편집할 결과가 없습니다. 먼저 편집을 실행하세요.",
    "edit.continued": "결과가 이제 편집할 이미지입니다. 다음으로 바꿀 부분을 칠하세요.",
    "ad.product": "제품 사진",
    "ad.cutout": "누끼 따기",
    "ad.cutout_editor": "누끼 고치기: 초록색은 추가, 빨간색은 제외",
    "ad.cutout_preview": "누끼 미리보기",
    "ad.cutout_done": "{method}(으)로 누끼를 땄습니다. 가장자리가 틀리면 초록색(제품)이나 빨간색(배경)으로 칠하세요.",
    "ad.background": "배경",
    "ad.bg_mode": "배경 만들기",
    "ad.bg_upload": "사진 올리기",
    "ad.bg_style": "스타일",
    "ad.bg_prompt": "생성한 그림 (설명 또는 가게 프리셋)",
    "ad.remover": "누끼 방식",
    "ad.fix_preview": "붓 수정 내용을 미리보기에 반영",
    "ad.bg_around_product": "제품 주변을 생성",
    "ad.bg_model": "배경 생성 모델",
    "ad.scale": "크기",
    "ad.scale_info": "1 = 규격 원래 크기. 작을수록 미리보기가 빨라집니다.",
    "ad.new_product": "새 제품 사진입니다. 먼저 누끼 따기를 누르세요.",
    "ad.bg_image": "배경 사진",
    "ad.bg_style_pick": "스타일",
    "ad.bg_preset_pick": "프리셋",
    "ad.bg_prompt_text": "배경 설명 (한국어 가능)",
    "ad.copy": "광고 문구",
    "ad.headline": "제목",
    "ad.subline": "부제",
    "ad.price": "가격",
    "ad.cta": "행동 유도 문구",
    "ad.formats": "규격",
    "ad.build": "광고 만들기",
    "ad.previews": "모든 규격 미리보기",
    "ad.files": "내려받기 (규격별 파일과 전체 zip)",
    "ad.done": "{seconds}초 만에 {count}개 규격을 만들었습니다. 다시 실행한 단계: {nodes}.",
    "ad.no_product": "먼저 제품 사진을 올리세요.",
    "ad.no_formats": "규격을 하나 이상 고르세요.",
    "gen.prompt": "설명 (한국어 가능)",
    "gen.prompt_ph": "예: 밝은 카페의 라떼 아트",
    "gen.negative": "제외할 내용",
    "gen.preset": "가게 프리셋",
    "gen.no_preset": "(없음)",
    "gen.lora": "LoRA 스타일",
    "gen.no_lora": "(없음)",
    "gen.lora_scale": "LoRA 강도",
    "gen.init_image": "시작 이미지 (선택: 이미지로 이미지 만들기)",
    "gen.strength": "변화 강도 (이미지로 이미지)",
    "gen.width": "가로",
    "gen.height": "세로",
    "gen.count": "장 수",
    "gen.run": "생성",
    "gen.lora_not_installed": "가중치 미설치",
    "gen.lora_other_model": "{base}용",
    "gen.auto_info": "비워 두면 프리셋이나 모델 값 사용",
    "gen.seed_info": "비워 두면 무작위 (사용한 시드는 보고서에 있음)",
    "gen.results": "결과",
    "gen.download": "내려받기 (PNG)",
    "gen.prompt_used": "모델에 보낸 설명",
    "gen.done": "{model}(으)로 {seconds}초 만에 {count}장을 만들었습니다.",
    "gen.no_prompt": "설명을 쓰거나 프리셋을 고르세요.",
    "gallery.task_edit": "편집",
    "gallery.task_ad": "광고",
    "gallery.task_generate": "생성",
    "gallery.task_cutout": "누끼",
    "gallery.refresh": "새로 고침",
    "gallery.selected": "선택한 번호",
    "gallery.open_edit": "편집 탭에서 열기",
    "gallery.open_generate": "생성 탭에서 열기 (이미지로 이미지)",
    "gallery.saved": "저장된 결과",
    "gallery.params": "설정값",
    "gallery.no_such": "{index}번 저장 결과가 없습니다 (저장된 결과 {count}개).",
    "status.models": "모델",
    "status.refresh": "새로 고침",
    "status.available": "사용 가능",
    "status.missing": "없음",
    "status.built_in": "코드로 생성 (무작위 가중치, 테스트용)",
    "status.fetch_with": "받는 명령: {command}",
    "status.col_model": "모델",
    "status.col_kind": "종류",
    "status.col_state": "상태",
    "status.col_size": "크기",
    "status.col_where": "위치 / 받는 방법",
    "status.device": "장치",
    "status.memory": "메모리 계획",
    "status.memory_plan": "{model}, 1024×1024 기준: KV 캐시 **{kv}**, 오프로드 **{offload}**, VAE 타일링 **{tiling}**. {why}",
    "status.memory_in_use": "지금 사용 중: 모델 {model}, 계획 **{plan}** ({notes}).",
    "plan.line": "메모리 계획: {why}",
    "plan.fallback_used": "(첫 계획에서 메모리가 부족해 대체 계획으로 실행했습니다)",
    "status.settings": "설정",
    "status.settings_line": "기본 모델 `{model}` · KV 캐시 `{kv}` · 메모리 방식 `{memory}` · 저장 폴더 `{output}`",
}

TRANSLATIONS = {"en": EN, "ko": KO}
I18N = gr.I18n(**TRANSLATIONS)


def t(key: str):
    """A label the browser shows in its own language."""
    if key not in EN:
        raise KeyError(f"No UI text for '{key}'")
    return I18N(key)


def tr(lang: str, key: str, **values) -> str:
    """A message in `lang`, for text composed at run time."""
    text = TRANSLATIONS.get(lang, EN).get(key) or EN.get(key) or key
    return text.format(**values) if values else text


def preferred_lang(accept_language: str | None) -> str:
    """The first of ko/en in the browser's Accept-Language order (q-weights respected)."""
    ranked = []
    for i, part in enumerate((accept_language or "").split(",")):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower().split("-")[0]))
    for _, _, lang in sorted(ranked):
        if lang in TRANSLATIONS:
            return lang
    return DEFAULT_LANG


def lang_of(request) -> str:
    """The language for run-time messages of one request (gr.Request or None)."""
    headers = getattr(request, "headers", None)
    return preferred_lang(headers.get("accept-language") if headers is not None else None)
