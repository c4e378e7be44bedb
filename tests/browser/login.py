"""Drive the portal's login page in headless Chromium: type the token, click a button.

usage: login.py URL TOKEN authorize|cancel SCREENSHOT
Prints the final page's heading, or the error shown on the page.
"""
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

url, token, action, shot = sys.argv[1:5]
opts = webdriver.ChromeOptions()
opts.binary_location = "/usr/bin/chromium"
for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-dev-shm-usage"):
    opts.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
try:
    driver.get(url)
    WebDriverWait(driver, 20).until(ec.presence_of_element_located((By.ID, action)))
    assert "wants to access your credentials" in driver.page_source
    driver.find_element(By.ID, "token").send_keys(token)
    driver.save_screenshot(shot)
    driver.find_element(By.ID, action).click()
    if action == "authorize":
        found = WebDriverWait(driver, 20).until(
            lambda d: d.find_elements(By.ID, "done") or d.find_elements(By.CLASS_NAME, "error"))
        print(found[0].text)
    else:
        # The CLI's listener answers the cancel and stops; whatever the browser shows then is fine.
        WebDriverWait(driver, 20).until(lambda d: "127.0.0.1" in d.current_url and "verify-token" not in d.current_url)
        print("cancelled at", driver.current_url.split("?")[0])
finally:
    driver.quit()
