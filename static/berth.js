// Berth: small improvements on pages that work without this script.
"use strict";

// Copy buttons: <button data-copy="text">.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const label = button.textContent;
  try {
    await navigator.clipboard.writeText(button.dataset.copy);
    button.textContent = "Copied";
  } catch {
    const field = button.parentElement && button.parentElement.querySelector("input");
    if (field) { field.select(); }
    button.textContent = "Press Ctrl+C";
  }
  setTimeout(() => { button.textContent = label; }, 2000);
});

// Dangerous forms: the button stays disabled until the name is typed (the server checks too).
for (const form of document.querySelectorAll("[data-confirm-form]")) {
  const input = form.querySelector("[data-confirm]");
  const button = form.querySelector("[data-confirm-target]");
  if (!input || !button) continue;
  const update = () => { button.disabled = input.value.trim() !== input.dataset.confirm; };
  input.addEventListener("input", update);
  update();
}

// Close the account menu on Escape and when clicking elsewhere.
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  for (const menu of document.querySelectorAll("details.menu[open]")) {
    menu.open = false;
    menu.querySelector("summary").focus();
  }
});
document.addEventListener("click", (event) => {
  for (const menu of document.querySelectorAll("details.menu[open]")) {
    if (!menu.contains(event.target)) menu.open = false;
  }
});

// Sort menus apply at once (the form's button does the same without this script).
for (const select of document.querySelectorAll("select[data-autosubmit]")) {
  select.addEventListener("change", () => select.form && select.form.requestSubmit());
}

// Username completion in member forms: <input list="…" data-complete-users> fills its
// <datalist> with matching names as one types (the form works the same without this script).
for (const input of document.querySelectorAll("input[data-complete-users]")) {
  const list = input.list;
  if (!list) continue;
  let timer = null;
  let asked = "";
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const q = input.value.trim().toLowerCase();
      if (q === "" || q === asked) return;
      asked = q;
      try {
        const r = await fetch("/api/v1/users?q=" + encodeURIComponent(q), {
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
        if (!r.ok || input.value.trim().toLowerCase() !== q) return;
        const body = await r.json();
        list.replaceChildren(...(body.users || []).map((name) => {
          const option = document.createElement("option");
          option.value = name;
          return option;
        }));
      } catch {
        // No suggestions: the field still takes a typed name.
      }
    }, 150);
  });
}
