"""A module's content: Markdown written by the teacher, rendered by markdown-it-py and
sanitised by nh3 (no hand-written sanitiser).

Raw HTML in the Markdown is shown as text, not markup. A video is written as an image whose
address is an https page on one of the allowed video hosts (`video_hosts` setting):
`![Title](https://www.youtube-nocookie.com/embed/ID)` becomes an iframe; on any other host it
stays a plain link. Since raw HTML never becomes markup, the only iframes are those; nh3 then
keeps only the tags below and an iframe's `src` only when https on an allowed host, so no
script, event handler or `javascript:` link survives, whatever reaches it.
Links to the LMS (`top_hosts`) open in the top window; every other link in a new tab, with
`rel="noopener noreferrer"`."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "s", "code", "pre",
    "blockquote", "ul", "ol", "li", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
    "iframe",
}  # fmt: skip
ATTRIBUTES = {
    "a": {"href", "title", "target"},
    "img": {"src", "alt", "title"},
    "iframe": {"src", "title", "allowfullscreen", "allow", "loading", "referrerpolicy"},
    "ol": {"start"},
    "th": {"align"},
    "td": {"align"},
}
_TARGETS = {"_blank", "_top"}
_VIDEO_ALLOW = "fullscreen; picture-in-picture; encrypted-media"


def host_list(setting: str) -> tuple[str, ...]:
    """The hosts of a setting written as a space- or comma-separated list, lower case."""
    return tuple(h for h in setting.replace(",", " ").lower().split() if h)


def video_host(url: str, hosts: Collection[str]) -> bool:
    """Whether an iframe may show this address: https, on one of the allowed hosts exactly."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme == "https" and (parts.hostname or "") in hosts and not parts.username


def _markdown(hosts: Collection[str], top_hosts: Collection[str]) -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    md.enable("strikethrough")

    def image(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        src = str(token.attrGet("src") or "")
        title = token.content or "Video"
        if video_host(src, hosts):
            return (
                f'<iframe src="{escape(src)}" title="{escape(title)}"'
                f' allow="{_VIDEO_ALLOW}" allowfullscreen loading="lazy"'
                ' referrerpolicy="strict-origin-when-cross-origin"></iframe>'
            )
        # The pages' CSP loads no image from elsewhere: a link to it instead.
        return f'<a href="{escape(src)}" target="_blank">{escape(title)}</a>'

    def link_open(self: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
        token = tokens[idx]
        host = (urlsplit(str(token.attrGet("href") or "")).hostname or "").lower()
        token.attrSet("target", "_top" if host and host in top_hosts else "_blank")
        return self.renderToken(tokens, idx, options, env)

    md.add_render_rule("image", image)
    md.add_render_rule("link_open", link_open)
    return md


def sanitise(html: str, hosts: Collection[str]) -> str:
    """Any HTML down to the content's tags: an iframe keeps only an allowed https `src` (one
    from elsewhere is left empty, loading nothing: nh3 cannot drop an element for its
    attribute's value), links keep only http(s) and mailto, with a safe target."""

    def keep(tag: str, attr: str, value: str) -> str | None:
        if tag == "iframe" and attr == "src":
            return value if video_host(value, hosts) else None
        if tag == "a" and attr == "target":
            return value if value in _TARGETS else None
        return value

    cleaned = nh3.clean(
        html,
        tags=TAGS,
        clean_content_tags={"script", "style"},
        attributes=ATTRIBUTES,
        attribute_filter=keep,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    return cleaned


def render(source: str, video_hosts: Collection[str], top_hosts: Collection[str] = ()) -> Markup:
    """The content's HTML, safe to put in a page."""
    if not source.strip():
        return Markup("")
    html = _markdown(video_hosts, top_hosts).render(source)
    return Markup(sanitise(html, video_hosts))
