"""The interface in English and 中文.

Two halves, because gradio translates only what the page itself shows:
- Labels, buttons, notes and other static text go through `gr.I18n`: `tr(english, chinese)`
  registers the pair and returns the key the browser translates. The browser's language picks
  the side; the header's switch changes it in place (gradio's own `changeLocale`).
- Sentences the server writes (errors, notices, "answered by") are `visionlab.text.Text`, and
  `say(text)` picks the language of the person asking: the switch's choice for that page
  (remembered per session), else the browser's Accept-Language, else English.
"""

from __future__ import annotations

import hashlib

import gradio as gr
from gradio.i18n import I18nData

from demos.per_page import PerPage, current_request, session_of
from visionlab.text import Text, as_text

_EN: dict[str, str] = {}
_ZH: dict[str, str] = {}
I18N = gr.I18n(en=_EN, zh=_ZH)  # filled by tr() while the tabs are built; read at launch
CHOICES = {"en": "English", "zh": "中文"}


def tr(en: str, zh: str) -> I18nData:
    """Static text of the page in both languages (a label, a button, a Markdown note)."""
    key = "vl_" + hashlib.sha1(f"{en}\0{zh}".encode()).hexdigest()[:12]  # no dots: i18n reads them as paths
    _EN[key], _ZH[key] = en, zh
    return I18N(key)


def choices(english, chinese) -> list[tuple[I18nData, str]]:
    """Radio or dropdown choices shown in the page's language; each one's value is its English
    (what handlers compare with and what the API takes)."""
    return [(tr(en, zh), en) for en, zh in zip(english, chinese, strict=True)]


SESSIONS = PerPage()  # page -> "en" / "zh", as set by the switch


def from_accept_language(header: str | None) -> str:
    """"zh" if Chinese is the first of English/Chinese in an Accept-Language header, else "en"."""
    ranked = []
    for i, part in enumerate((header or "").split(",")):
        tag, _, q = part.strip().partition(";q=")
        try:
            ranked.append((-float(q or 1), i, tag.lower()))
        except ValueError:
            continue
    for _, _, tag in sorted(ranked):
        if tag.startswith(("zh", "en")):
            return tag[:2]
    return "en"


def language(request: gr.Request | None = None) -> str:
    """"en" or "zh" for the request being answered (the current one if none is given)."""
    request = request or current_request()
    if request is None:
        return "en"
    chosen = SESSIONS.get(session_of(request))
    if chosen:
        return chosen
    headers = getattr(request, "headers", None) or {}
    return from_accept_language(headers.get("accept-language"))


def say(message: Text | str | None) -> str:
    """A server-written sentence in the asker's language ("" for None)."""
    return "" if message is None else as_text(message).in_language(language())


def error(en: str, zh: str) -> gr.Error:
    """A gr.Error in the asker's language: `raise error("...", "...")`."""
    return gr.Error(say(Text(en, zh)))


# The switch works in the page: gradio's frontend module `core` exports changeLocale; find it
# among the scripts the page loaded. The choice is kept in localStorage for the next visit.
_APPLY = """
  const lang = choice === '中文' ? 'zh' : 'en';
  const core = performance.getEntriesByType('resource').map(e => e.name)
                 .find(n => /\\/assets\\/core-[^/]*\\.js$/.test(n));
  if (core) import(core).then(m => m.changeLocale(lang === 'zh' ? 'zh-CN' : 'en')).catch(() => {});
"""
SWITCH_JS = f"(choice) => {{ {_APPLY} try {{ localStorage.setItem('vl_lang', lang); }} catch (e) {{}} return choice; }}"
LOAD_JS = f"""() => {{
  let saved = null;
  try {{ saved = localStorage.getItem('vl_lang'); }} catch (e) {{}}
  const lang = saved || ((document.documentElement.lang || navigator.language || 'en').startsWith('zh') ? 'zh' : 'en');
  const choice = lang === 'zh' ? '中文' : 'English';
  if (saved) {{ {_APPLY} }}
  return choice;
}}"""


def remember(choice: str | None, request: gr.Request) -> str:
    """The switch (or the page, when it opens) tells the server which language this page shows."""
    SESSIONS.set(request.session_hash, "zh" if choice == CHOICES["zh"] else "en")
    return choice


def build(demo: gr.Blocks) -> list:
    """English / 中文 switch for the header. It starts on the browser's language (or last choice).

    Returns the two events after which the server knows the page's language (the page opened,
    the switch moved): chain `.then(...)` to them to rewrite server-made text."""
    switch = gr.Radio(list(CHOICES.values()), value=None, show_label=False, container=False,
                      elem_id="vl-language")
    # Callable (undocumented) as /set_language ("English" or "中文"), for API clients.
    return [switch.input(remember, switch, switch, js=SWITCH_JS, api_name="set_language",
                         api_visibility="undocumented", queue=False),
            demo.load(remember, switch, switch, js=LOAD_JS, api_visibility="private", queue=False)]
