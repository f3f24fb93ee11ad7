// Berth: a running build's log, live. The page's <pre> holds the log as it was; this script
// follows it with Server-Sent Events from where the page left off, updates the status and
// scrolls along. Without it, the page reloads itself every few seconds instead.
"use strict";

(() => {
  const log = document.querySelector("pre[data-build-events]");
  if (!log || typeof EventSource !== "function") return;
  const chip = document.getElementById("build-status");
  const error = document.getElementById("build-error");
  const source = new EventSource(log.dataset.buildEvents);

  // Follows the end only while the reader is at the end: scrolling up to read stops it.
  const atEnd = (el) => el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  const pageAtEnd = () =>
    window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 24;

  source.addEventListener("log", (event) => {
    let text;
    try {
      text = JSON.parse(event.data).text;
    } catch {
      return;
    }
    if (typeof text !== "string") return;
    const follow = atEnd(log);
    const followPage = pageAtEnd();
    log.append(document.createTextNode(text));
    if (follow) log.scrollTop = log.scrollHeight;
    if (followPage) window.scrollTo(0, document.documentElement.scrollHeight);
  });

  source.addEventListener("status", (event) => {
    let build;
    try {
      build = JSON.parse(event.data);
    } catch {
      return;
    }
    if (chip && typeof build.status === "string") {
      chip.textContent = build.status;
      chip.className = chip.className.replace(/\bstatus-[a-z]+\b/, "status-" + build.status);
    }
    if (error && build.error) {
      error.textContent = build.error;
      error.hidden = false;
    }
    if (["success", "failed", "cancelled"].includes(build.status)) {
      for (const el of document.querySelectorAll("[data-while-running]")) el.hidden = true;
    }
  });

  // The build is over and its log all here: no reconnecting.
  source.addEventListener("end", () => source.close());
})();
