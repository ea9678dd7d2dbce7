"""A module's content: Markdown rendered by markdown-it-py and sanitised by nh3; scripts, event
handlers, `javascript:` links and iframes from other hosts never survive, allowed video does."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from lti_tool.services.module_content import host_list, render, sanitise, video_host
from lti_tool.settings import Settings

HOSTS = host_list(Settings().video_hosts)
VIDEO = "https://www.youtube-nocookie.com/embed/abc123"


def test_default_video_hosts() -> None:
    assert set(HOSTS) == {"youtube-nocookie.com", "www.youtube-nocookie.com", "player.vimeo.com"}
    assert video_host("https://player.vimeo.com/video/1", HOSTS)
    assert not video_host("http://player.vimeo.com/video/1", HOSTS)  # https only
    assert not video_host("https://player.vimeo.com.evil.example/x", HOSTS)
    assert not video_host("https://evil.example/?u=https://player.vimeo.com/", HOSTS)
    assert not video_host("https://user@player.vimeo.com/video/1", HOSTS)


def test_markdown_renders_formatting_links_and_allowed_video() -> None:
    html = render(
        f"# Fractions\n\n**Bold** and *it*.\n\n- one\n- two\n\n"
        f"[Quiz 3](https://lms.example/mod/quiz/view.php?id=3) and "
        f"[a page](https://example.org/page)\n\n![Intro video]({VIDEO})\n",
        HOSTS,
        top_hosts={"lms.example"},
    )
    assert "<h1>Fractions</h1>" in html and "<strong>Bold</strong>" in html
    assert "<li>one</li>" in html
    assert (
        '<a href="https://lms.example/mod/quiz/view.php?id=3" target="_top" '
        'rel="noopener noreferrer">Quiz 3</a>'
    ) in html
    assert (
        '<a href="https://example.org/page" target="_blank" rel="noopener noreferrer">a page</a>'
    ) in html
    assert f'<iframe src="{VIDEO}" title="Intro video"' in html
    assert html.count("<iframe") == 1


def test_markdown_never_turns_raw_html_or_bad_links_into_markup() -> None:
    html = render(
        '<script>alert(1)</script>\n\n<p onclick="steal()">x</p>\n\n'
        "[click](javascript:alert(1))\n\n"
        '<iframe src="https://evil.example/embed"></iframe>\n\n'
        "![video](https://evil.example/embed)\n\n"
        "![plain http](http://player.vimeo.com/video/1)\n",
        HOSTS,
    )
    assert "<script" not in html and "<p onclick" not in html
    assert 'href="javascript:' not in html
    assert "<iframe" not in html  # the raw one is text, the disallowed "video" a link
    assert '<a href="https://evil.example/embed" target="_blank"' in html
    assert "&lt;script&gt;" in html  # shown as text, as typed


def test_sanitiser_strips_script_handlers_javascript_and_other_iframes() -> None:
    cleaned = sanitise(
        '<p onclick="steal()" onmouseover="x()">Hi</p><script>alert(1)</script>'
        '<img src="/x.png" onerror="alert(1)"><a href="javascript:alert(1)">j</a>'
        '<a href="https://ok.example/" target="_parent">ok</a>'
        '<iframe src="https://evil.example/embed"></iframe>'
        '<iframe src="http://player.vimeo.com/video/2"></iframe>'
        '<iframe src="https://player.vimeo.com/video/1" onload="x()" srcdoc="<b>"></iframe>'
        '<style>body{}</style><object data="x"></object><form><input></form>',
        HOSTS,
    )
    for bad in ("onclick", "onmouseover", "onerror", "onload", "<script", "alert(1)</",
                "javascript:", "evil.example", "http://player", "srcdoc", "<style",
                "<object", "<form", "<input", "_parent"):  # fmt: skip
        assert bad not in cleaned, (bad, cleaned)
    assert '<iframe src="https://player.vimeo.com/video/1"></iframe>' in cleaned
    assert '<a href="https://ok.example/" rel="noopener noreferrer">ok</a>' in cleaned
    assert "<p>Hi</p>" in cleaned


def test_old_descriptions_migrate_as_text() -> None:
    path = Path(__file__).parents[2] / "migrations/versions/0006_module_content.py"
    spec = importlib.util.spec_from_file_location("m0006", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    old = "# Not a heading\n    *not italic* <b>x</b> [no](link)\n1. not a list\n\nSecond part"
    html = render(mod.as_markdown_text(old), HOSTS)
    assert "<h1>" not in html and "<em>" not in html and "<ol>" not in html
    assert "<b>" not in html and "<a " not in html and "<pre>" not in html
    assert "# Not a heading<br>" in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "*not italic*" in html and "[no](link)" in html and "1. not a list" in html
    assert "<p>Second part</p>" in html
