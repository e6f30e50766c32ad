(function () {
  function cellValue(row, index) {
    var text = row.cells[index].textContent.trim();
    var number = Number(text.replace(/,/g, ''));
    return text !== '' && !isNaN(number) ? number : text;
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    table.querySelectorAll('thead th').forEach(function (header, index) {
      header.title = 'sort';
      header.addEventListener('click', function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var descending = header.getAttribute('data-sorted') === 'asc';
        rows.sort(function (a, b) {
          var x = cellValue(a, index), y = cellValue(b, index);
          var order = x < y ? -1 : x > y ? 1 : 0;
          return descending ? -order : order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
        table.querySelectorAll('thead th').forEach(function (h) {
          h.removeAttribute('data-sorted');
        });
        header.setAttribute('data-sorted', descending ? 'desc' : 'asc');
      });
    });
  });
  var charts = document.querySelectorAll('svg.chart');
  var marks = document.querySelectorAll('svg.chart .mark');
  document.body.setAttribute('data-charts', String(charts.length));
  document.body.setAttribute('data-marks', String(marks.length));
  document.body.setAttribute('data-ready', 'yes');
})();
