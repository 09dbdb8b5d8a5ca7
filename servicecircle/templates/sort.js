// Click a scorecard header to sort its table (numbers numerically, text by locale).
document.addEventListener('click', function (ev) {
  var th = ev.target.closest('table.sc-table th');
  if (!th) return;
  var table = th.closest('table'), body = table.tBodies[0], idx = th.cellIndex;
  var asc = th.dataset.dir !== 'asc'; th.dataset.dir = asc ? 'asc' : 'desc';
  var rows = Array.prototype.slice.call(body.rows);
  rows.sort(function (a, b) {
    var x = a.cells[idx].dataset.v || a.cells[idx].textContent, y = b.cells[idx].dataset.v || b.cells[idx].textContent;
    var nx = parseFloat(x), ny = parseFloat(y);
    var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y, 'zh');
    return asc ? c : -c;
  });
  rows.forEach(function (r) { body.appendChild(r); });
});
