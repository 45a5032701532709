<?php
/**
 * A TaskManager worker you can run as is and extend with your own handlers.
 *
 *     php worker.php --debug
 *     php worker.php --api-url=http://localhost:8000/api --worker-id=worker-01 --max-runs=5
 *     php worker.php --config=worker.conf
 *
 * Options come from flags, environment variables or a --config KEY=VALUE file; --help lists
 * them. The built-in example.* handlers are registered already; add yours below.
 * Needs PHP 7.4 or later with the curl and json extensions (pcntl, when present, lets
 * SIGTERM and SIGINT stop the worker gracefully).
 */

if (PHP_VERSION_ID < 70400) {
    fwrite(STDERR, 'error: the TaskManager PHP worker needs PHP 7.4 or later, this is ' . PHP_VERSION . "\n");
    exit(2);
}
foreach (['curl', 'json'] as $extension) {
    if (!extension_loaded($extension)) {
        fwrite(STDERR, "error: the PHP extension '$extension' is not loaded (install php-$extension)\n");
        exit(2);
    }
}

require_once __DIR__ . '/lib/autoload.php';

use TaskManager\Worker\PermanentError;
use TaskManager\Worker\Retry;
use TaskManager\Worker\TaskContext;
use TaskManager\Worker\Worker;

$worker = new Worker();

// An example of your own handler; uncomment it and pick a type name of your application.
//
// $worker->handle('myapp.report.generate', function (array $params, TaskContext $ctx) {
//     if (!isset($params['month'])) {
//         throw new PermanentError('params.month is required'); // fails for good, no retry
//     }
//     $ctx->progress(10, 'collecting data');                  // also keeps the lease
//     try {
//         $rows = collect_rows($params['month']);
//     } catch (MyTimeoutException $e) {
//         throw new Retry('the data source timed out', 30);   // runs again in 30 s
//     }
//     $ctx->progress(90, 'writing');
//     return ['rows' => count($rows)];
// });

exit($worker->main($argv));
