"""Next-page links as platforms really send them."""

from __future__ import annotations

import pytest
import requests

from lti_tool.clients.lti_services import next_link, service_url, with_query


def _resp(link: str) -> requests.Response:
    r = requests.Response()
    r.headers["Link"] = link
    return r


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('<https://m.example/x?limit=2&from=2>; rel="next"', "https://m.example/x?limit=2&from=2"),
        ("<https://m.example/X?Limit=2>; rel=next", "https://m.example/X?Limit=2"),
        # Canvas: several rels, comma-joined, URL case kept
        (
            '<https://c.example/api/nrps?page=1&per_page=50>; rel="current",'
            '<https://c.example/api/nrps?page=2&per_page=50>; rel="next",'
            '<https://c.example/api/nrps?page=1&per_page=50>; rel="first"',
            "https://c.example/api/nrps?page=2&per_page=50",
        ),
        # Moodle's line items and results: rel=“next” read by requests as Latin-1
        (
            "<https://m.example/lineitems?type_id=1&limit=2&from=2>; rel=“next”".encode().decode(
                "latin-1"
            ),
            "https://m.example/lineitems?type_id=1&limit=2&from=2",
        ),
        ('<https://c.example/a?page=1>; rel="prev"', None),
    ],
)
def test_next_link(header: str, expected: str | None) -> None:
    assert next_link(_resp(header)) == expected


def test_moodle_urls_keep_their_query() -> None:
    item = "https://m.example/mod/lti/services.php/2/lineitems/2/lineitem?type_id=1"
    assert (
        service_url(item, "scores")
        == "https://m.example/mod/lti/services.php/2/lineitems/2/lineitem/scores?type_id=1"
    )
    assert with_query(item, {"limit": "50", "type_id": "9"}) == item + "&limit=50"
