"""kommune's pages in a real browser: Debian's Chromium, headless, driven by Selenium through
chromedriver. Each page must load with the expected text, break no WCAG 2.1 A/AA rule axe-core can check,
mark its English parts as English, be usable from the keyboard (the first Tab reaches the skip link,
which leads to the content), reflow at 320 CSS px without sideways scrolling of the page, and is kept
as screenshots (wide and narrow) for people to look at.

Usage: python check_pages.py BASE_URL SCREENSHOT_DIR AXE_JS PAGES_JSON
PAGES_JSON: [{"path": "/api", "name": "api", "expect": ["text", {"text": "t", "in": "#css"}, ...],
              "lang": "da", "follow": ["link text", "/path"]}, ...]
(lang: da by default; follow: optional, the link to click and where it must lead; also optional:
 "form": {"fields": {"id": "value"}, "expect": "text"} fills the page's form, submits it and looks for
 the text; "download": ["link text", "file name"] fetches the link and checks the file's name;
 "live": ["#region", "text"] checks that the page's script refreshes the region)
Prints "ok: ..." per check; exits non-zero naming every check that failed.
"""

import json
import pathlib
import sys
import tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.support.ui import Select, WebDriverWait

WCAG_21_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']}).then(result => done(
  result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                               nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}))));
"""

failures = []


def gone(element):
    """A wait condition: `element` has left the page. Chromium says so as a stale element, or, while the
    new page is being built, as a node that no longer belongs to the document."""

    def predicate(_driver):
        try:
            element.is_enabled()
            return False
        except WebDriverException:
            return True

    return predicate


def check(what, condition, detail=""):
    if condition:
        print(f"ok: {what}")
    else:
        failures.append(f"{what} {detail}".strip())
        print(f"FAILED: {what} {detail}")


def browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--lang=da",
        f"--user-data-dir={profile}", "--window-size=1280,900",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    # The API reference is one long page of every contract: axe takes a while over it on a busy machine.
    driver.set_script_timeout(240)
    return driver


def screenshot(driver, path, width):
    """The whole page, not only what the window shows: the window grows to the page's height."""
    height = driver.execute_script("return document.documentElement.scrollHeight;")
    driver.set_window_size(width, min(max(height, 600), 8000))
    driver.save_screenshot(str(path))


def check_page(driver, base, shots, axe_source, page):
    name, url = page["name"], base + page["path"]
    driver.set_window_size(1280, 900)
    driver.get(url)
    text = driver.find_element(By.TAG_NAME, "body").text
    for expected in page.get("expect", []):
        if isinstance(expected, dict):
            parts = driver.find_elements(By.CSS_SELECTOR, expected["in"])
            check(f"{name}: shows {expected['text']!r} in {expected['in']}",
                  any(expected["text"] in part.text for part in parts))
        else:
            check(f"{name}: shows {expected!r}", expected in text)
    language = page.get("lang", "da")
    check(f"{name}: says its language ({language})",
          driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == language)
    check(f"{name}: has a title", bool(driver.title))
    unmarked = driver.execute_script(
        "return [...document.querySelectorAll('.en')].filter(e => e.closest('[lang=en]') === null)"
        ".map(e => e.textContent.trim().slice(0, 40));")
    check(f"{name}: its English parts say so (lang=en)", not unmarked, str(unmarked[:5]))

    driver.execute_script(axe_source)
    violations = driver.execute_async_script(AXE_RUN, WCAG_21_AA)
    check(f"{name}: no WCAG 2.1 AA violation found by axe-core", not violations, json.dumps(violations, ensure_ascii=False))

    screenshot(driver, shots / f"{name}.png", 1280)
    driver.set_window_size(1280, 900)

    body = driver.find_element(By.TAG_NAME, "body")
    body.send_keys(Keys.TAB)
    first = driver.switch_to.active_element
    check(f"{name}: the first Tab reaches the skip link", first.get_attribute("href") is not None
          and first.get_attribute("href").endswith("#indhold"), first.get_attribute("outerHTML")[:80])
    first.send_keys(Keys.ENTER)
    check(f"{name}: the skip link leads to the content", driver.current_url.endswith("#indhold"))

    if "follow" in page:
        link, to = page["follow"]
        driver.get(url)
        driver.find_element(By.LINK_TEXT, link).click()
        try:
            WebDriverWait(driver, 10).until(lambda d: d.current_url == base + to)
        except TimeoutException:
            pass
        check(f"{name}: the link {link!r} leads to {to}", driver.current_url == base + to, driver.current_url)

    if "form" in page:
        form = page["form"]
        driver.get(url)
        for field, value in form["fields"].items():
            element = driver.find_element(By.ID, field)
            if element.tag_name == "select":
                Select(element).select_by_value(value)
            else:
                element.clear()
                element.send_keys(value)
        button = driver.find_element(By.CSS_SELECTOR, "form button[type=submit]")
        button.click()
        # The answer is a new page: wait for the old one to go, then for the text on the new one.
        try:
            WebDriverWait(driver, 10).until(gone(button))
            WebDriverWait(driver, 10).until(
                lambda d: form["expect"] in d.find_element(By.TAG_NAME, "body").text)
            found = True
        except TimeoutException:
            found = False
        check(f"{name}: the form finds {form['expect']!r}", found)
        screenshot(driver, shots / f"{name}-form.png", 1280)
        driver.set_window_size(1280, 900)

    if "live" in page:
        # The page's own script refreshes the region every minute; here every 300 ms, and the region is
        # spoiled first, so only a refresh from the gateway can bring the text back.
        region, text = page["live"]
        added = driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source":
            "const every = window.setInterval; window.setInterval = (f, ms) => every(f, Math.min(ms, 300));"})
        driver.get(url)
        driver.execute_script("document.querySelector(arguments[0]).innerHTML = '<p>forældet</p>';", region)
        try:
            WebDriverWait(driver, 10).until(lambda d: text in d.find_element(By.CSS_SELECTOR, region).text)
            refreshed = True
        except Exception:
            refreshed = False
        driver.execute_cdp_cmd("Page.removeScriptToEvaluateOnNewDocument", {"identifier": added["identifier"]})
        check(f"{name}: its script refreshes {region} from the gateway", refreshed)

    if "download" in page:
        link_text, file_name = page["download"]
        driver.get(url)
        href = driver.find_element(By.LINK_TEXT, link_text).get_attribute("href")
        fetched = driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "fetch(arguments[0]).then(r => r.text().then(t => done([r.status,"
            " r.headers.get('content-disposition'), t.split('\\n').length])));", href)
        check(f"{name}: {link_text!r} downloads {file_name}",
              fetched[0] == 200 and fetched[1] == f'attachment; filename="{file_name}"' and fetched[2] > 1,
              str(fetched))

    driver.set_window_size(320, 800)
    driver.get(url)
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;")
    check(f"{name}: reflows at 320 px without scrolling sideways", overflow <= 0, f"({overflow} px too wide)")
    screenshot(driver, shots / f"{name}-narrow.png", 320)


def main(base, shots, axe_path, pages):
    shots = pathlib.Path(shots)
    shots.mkdir(parents=True, exist_ok=True)
    axe_source = pathlib.Path(axe_path).read_text()
    with tempfile.TemporaryDirectory() as profile:
        driver = browser(profile)
        try:
            for page in json.loads(pages):
                check_page(driver, base, shots, axe_source, page)
        finally:
            driver.quit()
    if failures:
        sys.exit("FAILED:\n" + "\n".join(failures))


if __name__ == "__main__":
    main(*sys.argv[1:])
