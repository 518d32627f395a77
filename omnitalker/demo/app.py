"""The Gradio page: reference (video, or image + audio where installed), text, controls -> video + downloads.

Widgets only: every request goes through `DemoService`, whose errors arrive here as one-line messages.
Optional features (controls, image + audio identity, streaming preview) appear only where the pipeline has them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import gradio as gr

from omnitalker.demo.features import ControlField
from omnitalker.demo.service import DemoError, DemoRequest, DemoService

INTRO = """# OmniTalker — text to a talking video
Upload a reference (1–10 s of one person speaking), type a text, press **Generate**. The result carries a visible
"AI-generated" label and invisible watermarks. Only use faces and voices you have the right to use."""
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "sans-serif"]  # no web fonts: the page makes no outside request
MONO_FONTS = ["ui-monospace", "monospace"]
REQUEST_KEYS = ("reference_video", "ref_codes", "ref_text", "face_crop", "identity_image", "voice_audio",
                "voice_text", "motion_video", "text", "speed", "seed", "preview")


def theme() -> gr.themes.Base:
    return gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS)


def build_app(service: DemoService) -> gr.Blocks:
    features = service.features
    inputs: dict[str, gr.components.Component] = {}
    controls: dict[str, gr.components.Component] = {}
    # delete_cache: gradio's copies of uploads and results older than 2 h are removed every hour
    with gr.Blocks(title="OmniTalker demo", analytics_enabled=False, delete_cache=(3600, 7200)) as app:
        gr.Markdown(INTRO)
        with gr.Row():
            with gr.Column():
                with gr.Tab("Reference video"):
                    inputs["reference_video"] = gr.Video(label="Reference video (1-10 s, one face, speaking)",
                                                         sources=["upload"], format=None, elem_id="ref_video")
                    inputs["ref_text"] = gr.Textbox(label="Transcript of the reference (empty: from the codes "
                                                    "file, else speech recognition)", elem_id="ref_text")
                    inputs["ref_codes"] = gr.File(label="Reference codes (.npz, optional: skips face fitting)",
                                                  file_types=[".npz"], elem_id="ref_codes")
                    inputs["face_crop"] = gr.Checkbox(label="The reference is already a square face crop",
                                                      value=False, elem_id="face_crop")
                if features.sources:
                    with gr.Tab("Image + audio"):
                        inputs["identity_image"] = gr.Image(label="Portrait (one face)", type="filepath",
                                                            sources=["upload"], elem_id="identity_image")
                        inputs["voice_audio"] = gr.Audio(label="Voice clip", type="filepath", sources=["upload"],
                                                         elem_id="voice_audio")
                        inputs["voice_text"] = gr.Textbox(label="Transcript of the voice clip (empty: speech "
                                                          "recognition)", elem_id="voice_text")
                        inputs["motion_video"] = gr.Video(label="Motion style clip (optional)", sources=["upload"],
                                                          format=None, elem_id="motion_video")
                inputs["text"] = gr.Textbox(label="Text to speak", lines=4, max_length=service.settings.max_text_chars,
                                            placeholder="Hello! This talking head was generated from text.",
                                            elem_id="text")
                with gr.Accordion("Settings", open=False):
                    inputs["speed"] = gr.Slider(0.5, 2.0, value=1.0, step=0.05, label="Speaking speed",
                                                elem_id="speed")
                    inputs["seed"] = gr.Number(value=None, precision=0, label="Seed (empty: the configured one)",
                                               elem_id="seed")
                    if features.stream:
                        inputs["preview"] = gr.Checkbox(label="Streaming preview while generating", value=False,
                                                        elem_id="preview_on")
                if features.controls is not None:
                    with gr.Accordion("Controls", open=True):
                        controls = {f.name: control_widget(f) for f in features.control_fields}
                button = gr.Button("Generate", variant="primary", elem_id="generate")
            with gr.Column():
                status = gr.Textbox(label="Status", interactive=False, lines=2, elem_id="status")
                outputs: list[gr.components.Component] = [status]
                if features.stream:
                    outputs.append(gr.Video(label="Preview", streaming=True, autoplay=True, elem_id="preview"))
                outputs.append(gr.Video(label="Result", format=None, interactive=False, elem_id="result_video"))
                outputs.append(gr.File(label="Downloads (mp4, wav, codes)", file_count="multiple",
                                       interactive=False, elem_id="downloads"))
        names = list(inputs) + [f"control:{name}" for name in controls]

        def run(*values: Any) -> Iterator[tuple]:
            yield from handle(service, dict(zip(names, values, strict=True)), features.stream)

        button.click(run, inputs=list(inputs.values()) + list(controls.values()), outputs=outputs,
                     show_progress="minimal")
    return app


def control_widget(field: ControlField) -> gr.components.Component:
    label = field.name.replace("_", " ")
    elem_id = f"control_{field.name}"
    if field.kind == "slider":
        low, high, step = field.range
        return gr.Slider(low, high, value=field.default, step=step, label=label, elem_id=elem_id)
    if field.kind == "checkbox":
        return gr.Checkbox(value=field.default, label=label, elem_id=elem_id)
    if field.kind == "choice":
        return gr.Dropdown(["(none)", *field.choices], value=field.default or "(none)", label=label, elem_id=elem_id)
    if field.kind == "number":
        return gr.Number(value=field.default, label=f"{label} (empty: as generated)", elem_id=elem_id)
    return gr.Textbox(value=field.default or "", label=label, elem_id=elem_id)


def request_from(values: dict[str, Any]) -> DemoRequest:
    """Widget values -> a request (missing optional widgets are absent from ``values``)."""
    controls = {}
    for key, value in values.items():
        if key.startswith("control:"):
            if value == "(none)" or (isinstance(value, str) and not value.strip()):
                value = None
            controls[key.split(":", 1)[1]] = value
    seed = values.get("seed")
    return DemoRequest(
        text=values.get("text") or "", reference_video=values.get("reference_video"),
        ref_text=values.get("ref_text"), ref_codes=values.get("ref_codes"), face_crop=bool(values.get("face_crop")),
        identity_image=values.get("identity_image"), voice_audio=values.get("voice_audio"),
        voice_text=values.get("voice_text"), motion_video=values.get("motion_video"),
        speed=float(values.get("speed") or 1.0), seed=None if seed is None else int(seed), controls=controls,
    )


def handle(service: DemoService, values: dict[str, Any], streaming: bool) -> Iterator[tuple]:
    """Yields (status, [preview], video, downloads) updates: working..., [preview chunks], then result or error."""
    def update(status: str, preview: Any = gr.skip(), video: Any = None, files: Any = None) -> tuple:
        return (status, preview, video, files) if streaming else (status, video, files)

    request = request_from(values)
    yield update("Generating... (reference analysis, speech and motion, vocoder, renderer)")
    try:
        if streaming and values.get("preview"):
            for chunk in service.stream_preview(request):
                yield update("Generating... (streaming preview)", preview=chunk)
        result = service.generate(request)
    except DemoError as exc:
        yield update(f"Error: {exc}")
        return
    yield update(result.summary(), video=str(result.video), files=result.downloads)
