"""The QA page hands out the report in the reviewer's language (qa.html?lang=...), issue #12."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_qa_browser import SUP, page, qa_server  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def test_report_link_in_the_reviewers_language(qa_server: str, page: Any) -> None:  # noqa: F811
    await page.goto(qa_server + f"/qa.html?token={SUP}&lang=id#call=call-1")
    await page.wait_for_selector("#curve-svg polyline.sentiment", state="attached")
    href = await page.get_attribute("#report-link", "href")
    assert href == f"/api/calls/call-1/report.html?lang=id&token={SUP}"
    report = await page.request.get(qa_server + href)
    assert report.status == 200 and "Catatan pembinaan" in await report.text()
    assert page.errors == []
