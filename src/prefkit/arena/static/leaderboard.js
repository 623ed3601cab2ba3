// The leaderboard page: click a column head to sort; rows refresh from /api/leaderboard.
"use strict";
(function () {
  const table = document.getElementById("board");
  const body = table.tBodies[0];
  let sortKey = "rank";
  let ascending = true;

  function cellValue(row, index, type) {
    const value = row.cells[index].dataset.value;
    if (type === "num") {
      const number = parseFloat(value);
      return Number.isNaN(number) ? Infinity : number;
    }
    return value || "";
  }

  function sortRows() {
    const heads = Array.from(table.tHead.rows[0].cells);
    const index = heads.findIndex(function (th) { return th.dataset.key === sortKey; });
    const type = heads[index].dataset.type;
    heads.forEach(function (th) { th.removeAttribute("aria-sort"); });
    heads[index].setAttribute("aria-sort", ascending ? "ascending" : "descending");
    const rows = Array.from(body.rows);
    rows.sort(function (x, y) {
      const a = cellValue(x, index, type);
      const b = cellValue(y, index, type);
      const order = type === "num" ? a - b : String(a).localeCompare(String(b));
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  }

  function cell(row, value, text) {
    const td = row.insertCell();
    td.dataset.value = value === null || value === undefined ? "" : String(value);
    td.textContent = text;
  }

  function fill(board) {
    while (body.rows.length) { body.deleteRow(0); }
    board.items.forEach(function (item) {
      const row = body.insertRow();
      cell(row, item.rank, String(item.rank));
      cell(row, item.name, item.name);
      cell(row, item.rating, item.rating.toFixed(1));
      const ci = item.ci_low === null ? "—"
        : "[" + item.ci_low.toFixed(1) + ", " + item.ci_high.toFixed(1) + "]";
      cell(row, item.ci_low, ci);
      cell(row, item.votes, String(item.votes));
    });
    document.getElementById("votes").textContent = String(board.votes);
    document.getElementById("updated").textContent = board.updated_at || "never";
    sortRows();
  }

  Array.from(table.tHead.rows[0].cells).forEach(function (th) {
    th.addEventListener("click", function () {
      ascending = sortKey === th.dataset.key ? !ascending : th.dataset.type !== "num"
        || th.dataset.key === "rank";
      sortKey = th.dataset.key;
      sortRows();
    });
  });

  let lastVotes = Number(document.getElementById("votes").textContent);
  function refresh() {
    fetch("/api/leaderboard", { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (board) {
        if (board && board.votes !== lastVotes) {
          lastVotes = board.votes;
          fill(board);
        }
      })
      .catch(function () { /* the server restarts: try again at the next tick */ });
  }
  window.setInterval(refresh, 3000);
})();
