// newswatch web: send feedback forms without a page reload and always say what happened.
// Without JavaScript the same forms post normally and the page reloads with the outcome.
"use strict";

function setStatus(form, text, kind) {
  const status = form.querySelector(".fb-status");
  status.textContent = text;
  status.className = "fb-status " + kind;
  status.setAttribute("role", kind === "error" ? "alert" : "status");
}

document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.classList.contains("feedback")) {
    return;
  }
  event.preventDefault();
  const buttons = Array.from(form.querySelectorAll("button"));
  const body = new URLSearchParams(new FormData(form, event.submitter));
  buttons.forEach((button) => { button.disabled = true; });
  setStatus(form, "Saving…", "pending");
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body,
      headers: { "Accept": "application/json" },
      credentials: "same-origin",
    });
    let answer = null;
    try {
      answer = await response.json();
    } catch (error) {
      answer = null;
    }
    if (response.ok && answer && answer.ok) {
      setStatus(form, answer.message, "ok");
      form.classList.add("done");
      return;
    }
    const reason = answer && answer.error ? answer.error : "the server answered " + response.status;
    setStatus(form, "Not recorded: " + reason, "error");
  } catch (error) {
    setStatus(form, "Not recorded: the server could not be reached. Try again.", "error");
  }
  buttons.forEach((button) => { button.disabled = false; });
});
