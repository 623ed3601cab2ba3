// Sign-in link: /signin#token=TOKEN. The token is in the fragment, so it never reaches a
// request line or a server log; it is posted once to /api/signin, which sets the cookie.
"use strict";
(function () {
  const status = document.getElementById("status");
  const params = new URLSearchParams(window.location.hash.slice(1));
  const token = params.get("token");
  history.replaceState(null, "", "/signin");
  if (!token) {
    status.textContent = "This link has no token. Ask for a new sign-in link.";
    status.classList.add("error");
    return;
  }
  fetch("/api/signin", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ token: token }),
  }).then(function (response) {
    if (response.ok) {
      window.location.replace("/vote");
    } else {
      status.textContent = "This sign-in link is not valid (any more).";
      status.classList.add("error");
    }
  }).catch(function () {
    status.textContent = "Could not reach the server.";
    status.classList.add("error");
  });
})();
