// The leaderboard page: click a column head to sort (numbers by the cell's data-sort, empty
// cells last); when the vote count changes, the section is swapped for /leaderboard/section
// (the same server-rendered fragment) and the chosen order is applied again.
"use strict";
(function () {
  const holder = document.getElementById("live-board");
  let sortColumn = null;
  let ascending = true;

  function key(cell) {
    if (!cell) { return null; }
    let value = cell.getAttribute("data-sort");
    if (value === null) { value = cell.textContent.trim(); }
    if (value === "" || value === "\u2014") { return null; }
    const number = Number(value);
    return Number.isNaN(number) ? value.toLowerCase() : number;
  }

  function compare(x, y) {
    if (x === null && y === null) { return 0; }
    if (x === null) { return 1; }
    if (y === null) { return -1; }
    if (typeof x === typeof y) { return x < y ? -1 : x > y ? 1 : 0; }
    return typeof x === "number" ? -1 : 1;
  }

  function sortTable(table) {
    const heads = table.tHead.rows[0].cells;
    Array.from(heads).forEach(function (th) { th.removeAttribute("aria-sort"); });
    if (sortColumn === null || sortColumn >= heads.length) { return; }
    heads[sortColumn].setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const body = table.tBodies[0];
    const rows = Array.from(body.rows);
    rows.sort(function (a, b) {
      const x = key(a.cells[sortColumn]);
      const y = key(b.cells[sortColumn]);
      const order = compare(x, y);
      return ascending || x === null || y === null ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function bind() {
    const table = document.getElementById("board");
    if (!table) { return; }
    Array.from(table.tHead.rows[0].cells).forEach(function (th, column) {
      th.setAttribute("tabindex", "0");
      function sort() {
        ascending = sortColumn === column ? !ascending : true;
        sortColumn = column;
        sortTable(table);
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") { sort(); } });
    });
    sortTable(table);
  }

  let lastVotes = Number(document.getElementById("votes").textContent);
  function refresh() {
    fetch("/leaderboard/section", { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { return null; }
        const votes = Number(response.headers.get("x-votes"));
        return response.text().then(function (html) { return { votes: votes, html: html }; });
      })
      .then(function (fresh) {
        if (fresh && fresh.votes !== lastVotes) {
          lastVotes = fresh.votes;
          holder.innerHTML = fresh.html;  // rendered by prefkit with every text escaped
          document.getElementById("votes").textContent = String(fresh.votes);
          document.getElementById("updated").textContent = new Date().toISOString();
          bind();
        }
      })
      .catch(function () { /* the server restarts: try again at the next tick */ });
  }
  bind();
  window.setInterval(refresh, 3000);
})();
