"""A web page on another site attacks jit's login listener in headless Chromium; then, on "go"
from stdin, the portal's own page hands over the real token.

usage: attack.py ATTACK_URL PORTAL_PAGE CALLBACK MODE TOKEN
  ATTACK_URL   the attacker's page (http://evil.example:N/..., resolved to 127.0.0.1)
  PORTAL_PAGE  a page on the portal's origin
  CALLBACK     http://127.0.0.1:PORT, the listener
  MODE         navigate (the portal page sets location to CALLBACK/?t=TOKEN) or post (it POSTs
               TOKEN with fetch and reads the reply); "none" stops after the attack
Prints "fired" once the attack page has sent everything, then "landed URL" or "posted JSON".
"""
import json
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

attack_url, portal_page, callback, mode, token = sys.argv[1:6]
opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage", "--disable-popup-blocking",
             "--host-resolver-rules=MAP evil.example 127.0.0.1"):
    opts.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
try:
    driver.set_script_timeout(30)
    driver.get(attack_url)
    WebDriverWait(driver, 60).until(lambda d: d.title == "fired")
    print("fired", flush=True)
    if mode != "none":
        sys.stdin.readline()
        driver.switch_to.window(driver.window_handles[0])
        driver.get(portal_page)
        if mode == "navigate":
            driver.execute_script("location.href = arguments[0]", callback + "/?t=" + token)
            WebDriverWait(driver, 20).until(lambda d: "success=true" in d.current_url)
            print("landed", driver.current_url, flush=True)
        else:
            body = driver.execute_async_script(
                "const done = arguments[arguments.length - 1];"
                "fetch(arguments[0] + '/', {method: 'POST', body: arguments[1]})"
                ".then(r => r.text().then(t => done([r.status, t])), e => done(String(e)));",
                callback, token)
            print("posted", json.dumps(body), flush=True)
finally:
    driver.quit()
