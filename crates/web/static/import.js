// Polls an import job until it is no longer running, then reloads to show the errors.
(function () {
  var el = document.getElementById('job');
  if (!el || el.dataset.status !== 'running') return;
  var id = el.dataset.id;
  var labels = { running: '导入中', done: '已完成', failed: '失败', interrupted: '已中断' };
  function tick() {
    fetch('/api/v1/imports/' + id, { credentials: 'same-origin' })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        document.getElementById('job-status').textContent = labels[j.status] || j.status;
        document.getElementById('job-counts').textContent =
          '已处理 ' + j.processed_rows + ' 行：新增 ' + j.imported + '，更新 ' + j.updated + '，未变 ' + j.unchanged + '，拒绝 ' + j.rejected;
        var p = document.getElementById('job-progress');
        if (j.percent != null) p.value = j.percent;
        if (j.status === 'running') setTimeout(tick, 700); else location.reload();
      })
      .catch(function () { setTimeout(tick, 2000); });
  }
  tick();
})();
