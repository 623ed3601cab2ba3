// The voting page: A, B, T (tie), S (skip) or the buttons cast a vote for the shown task.
"use strict";
(function () {
  const task = document.getElementById("task");
  if (!task) { return; }
  const status = document.getElementById("status");
  const rationale = document.getElementById("rationale");
  const keys = { a: "a", b: "b", t: "tie", s: "skip" };
  let busy = false;

  function say(text, isError) {
    status.textContent = text;
    status.classList.toggle("error", Boolean(isError));
  }

  function cast(winner) {
    if (busy) { return; }
    busy = true;
    say("Saving your vote…", false);
    const body = { task_id: Number(task.dataset.taskId), winner: winner };
    const text = rationale.value.trim();
    if (text) { body.rationale = text; }
    const ratings = {};
    document.querySelectorAll("select[data-rating]").forEach(function (select) {
      if (select.value) { ratings[select.dataset.rating] = Number(select.value); }
    });
    if (Object.keys(ratings).length) { body.ratings = ratings; }
    fetch("/api/vote", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(function (answer) {
        if (response.status === 201 || response.status === 409) {
          window.location.reload();  // the next task
          return;
        }
        busy = false;
        say((answer && answer.error) || ("error " + response.status), true);
      });
    }).catch(function () {
      busy = false;
      say("Could not reach the server; your vote was not saved. Try again.", true);
    });
  }

  document.addEventListener("keydown", function (event) {
    const tag = event.target.tagName;
    if (tag === "TEXTAREA" || tag === "SELECT" || tag === "INPUT" || event.ctrlKey
        || event.metaKey || event.altKey) {
      return;  // typing a rationale, choosing a rating, or a browser shortcut
    }
    const winner = keys[event.key.toLowerCase()];
    if (winner) {
      event.preventDefault();
      cast(winner);
    }
  });
  document.querySelectorAll("button[data-winner]").forEach(function (button) {
    button.addEventListener("click", function () { cast(button.dataset.winner); });
  });
})();
