// Berth: a running build's log, live. The page's <pre> holds the log as it was; this script
// follows it with Server-Sent Events from where the page left off, updates the status and
// scrolls along. Without it, the page reloads itself every few seconds instead.
"use strict";

(() => {
  const log = document.querySelector("pre[data-build-events]");
  if (!log || typeof EventSource !== "function") return;
  const chip = document.getElementById("build-status");
  const error = document.getElementById("build-error");
  const duration = document.getElementById("build-duration");
  const digest = document.getElementById("build-digest");
  const source = new EventSource(log.dataset.buildEvents);

  // As the server writes durations: 1h 2m, 3m 4s, 5s.
  const span = (s) => {
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s % 60}s` : `${s % 60}s`;
  };

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
    if (duration && Number.isInteger(build.duration_seconds)) {
      duration.textContent = span(build.duration_seconds);
    }
    if (digest && typeof build.digest === "string") {
      const code = document.createElement("code");
      code.textContent = build.digest;
      digest.replaceChildren(code);
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
