<?php
// The PHP worker's classes; no Composer needed.
require_once __DIR__ . '/../WorkerClient.php';
require_once __DIR__ . '/Config.php';
require_once __DIR__ . '/Support.php';
require_once __DIR__ . '/Handlers.php';
require_once __DIR__ . '/Examples.php';
require_once __DIR__ . '/Api.php';
require_once __DIR__ . '/TaskRun.php';
require_once __DIR__ . '/Worker.php';
