#!/usr/bin/env python3
"""The Import page of `lsdb serve` in a real browser: headless Chromium driven over WebDriver.

    python tests/browser/import_page.py --lsdb target/debug/lsdb [--screenshot out.png]

Uploads a CSV through the page's file input, checks the format the page shows, the import
summary and the project's counts it then shows; uploads a broken JSON file and checks the
error with its line and the unchanged counts. Keeps a screenshot. Run by .ci/run.
"""
import argparse, os, subprocess, sys, tempfile

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def check(what, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + what + (f": {detail}" if detail and not ok else ""), flush=True)
    if not ok:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lsdb", required=True)
    ap.add_argument("--screenshot", default="import-page.png")
    args = ap.parse_args()
    lsdb = os.path.abspath(args.lsdb)
    work = tempfile.mkdtemp(prefix="lsdb-browser-")
    project = os.path.join(work, "proj")
    subprocess.run([lsdb, "init", project], check=True, capture_output=True)
    rows = os.path.join(work, "reviews.csv")
    with open(rows, "w") as f:
        f.write("text,label\ngreat phone,pos\nbroke in a day,neg\n")
    broken = os.path.join(work, "bad.json")
    with open(broken, "w") as f:
        f.write('[{"text": "a"}, {"text": ]')
    server = subprocess.Popen([lsdb, "-p", project, "serve", "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={work}/chromium", "--window-size=1000,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    try:
        url = server.stdout.readline().split("at ")[1].split()[0]
        driver.get(url + "/import")
        wait = WebDriverWait(driver, 20)
        text = lambda id_: driver.find_element(By.ID, id_).text
        wait.until(lambda d: "0 tasks" in text("counts"))
        check("the page shows the project's counts", "0 tasks" in text("counts"), text("counts"))
        driver.find_element(By.ID, "files").send_keys(rows)
        wait.until(lambda d: "CSV" in text("chosen"))
        check("the page shows the file's format", "reviews.csv" in text("chosen") and "CSV" in text("chosen"),
              text("chosen"))
        driver.find_element(By.ID, "import").click()
        wait.until(lambda d: "Imported" in text("result") or "error" in d.find_element(By.ID, "result").get_attribute("class"))
        check("the page shows the import summary", text("result").startswith("Imported 2 tasks"), text("result"))
        wait.until(lambda d: "2 tasks" in text("counts"))
        check("the page shows the new counts", "2 tasks" in text("counts"), text("counts"))
        driver.save_screenshot(args.screenshot)
        driver.find_element(By.ID, "files").send_keys(broken)
        driver.find_element(By.ID, "import").click()
        wait.until(lambda d: "bad.json" in text("result"))
        check("a broken file shows its line", text("result").startswith("bad.json:1:"), text("result"))
        check("and nothing of it was imported", "2 tasks" in text("counts"), text("counts"))
        print(f"screenshot: {os.path.abspath(args.screenshot)}")
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=10)
    # The server holds the store while it runs; stopped, the store holds the 2 tasks.
    tasks = subprocess.run([lsdb, "-p", project, "sql", "--format", "csv", "--no-headers",
                            "SELECT count(*) FROM tasks"], capture_output=True, text=True)
    check("the store holds the 2 tasks", tasks.stdout.strip() == "2", tasks.stdout + tasks.stderr)


if __name__ == "__main__":
    main()
