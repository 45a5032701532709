<?php

namespace TaskManager\Worker;

/**
 * Handlers by task type, and the worker's life: configuration, health check, the claim loop,
 * graceful and hurried stops, final statistics.
 */
class Worker
{
    const EXIT_OK = 0;
    const EXIT_FAILURE = 1;
    const EXIT_CONFIG = 2;

    /** @var array<string, callable> */
    private $handlers = [];
    /** @var Config */
    private $config;
    /** @var Logger */
    private $log;
    /** @var Stats */
    private $stats;
    /** @var Api */
    private $api;
    /** @var TaskRun|null the task in hand, while its handler runs */
    private $inHand = null;
    /** @var int */
    private $signals = 0;
    /** @var bool no more claims */
    private $stopping = false;
    /** @var bool a second signal came: exit with status 1 */
    private $aborting = false;
    /** @var bool a claim was cut short by a stop: it may have leased a task we never saw */
    private $claimCutOff = false;
    /** @var string|null */
    private $failure = null;

    /** @param bool $examples include the built-in example.* handlers */
    public function __construct(bool $examples = true)
    {
        if ($examples) {
            $this->handlers = Examples::handlers();
        }
    }

    /**
     * Register a handler: function (array $params, TaskContext $ctx) returning the result (an
     * array with string keys, or any value, stored as {"value": ...}); it throws to fail: Retry
     * to run again (after a delay if given), PermanentError to fail for good, anything else to
     * fail this attempt. A handler for an example.* type replaces the built-in one.
     */
    public function handle(string $taskType, callable $handler): self
    {
        if (!preg_match(Config::TYPE_PATTERN, $taskType)) {
            throw new \InvalidArgumentException(sprintf('invalid task type %s: use [A-Za-z0-9_.:-], 1-200 chars', var_export($taskType, true)));
        }
        $this->handlers[$taskType] = $handler;
        return $this;
    }

    /** @return string[] */
    public function taskTypes(): array
    {
        $types = array_keys($this->handlers);
        sort($types);
        return $types;
    }

    /** Read flags, environment and --config file, run, and answer the exit status. */
    public function main(array $argv): int
    {
        $program = isset($argv[0]) ? basename((string) $argv[0]) : 'worker.php';
        try {
            $parsed = Config::parseArgs(array_slice($argv, 1));
            if ($parsed['help']) {
                fwrite(STDOUT, Config::usage($program));
                return self::EXIT_OK;
            }
            $config = Config::load($parsed['flags'], getenv(), $parsed['config_file']);
            $this->check($config);
        } catch (ConfigError $e) {
            foreach (explode("\n", $e->getMessage()) as $line) {
                fwrite(STDERR, 'error: ' . $line . "\n");
            }
            return self::EXIT_CONFIG;
        }
        return $this->run($config);
    }

    /** ConfigError when the configuration asks for types this worker cannot run. */
    public function check(Config $config): void
    {
        if (!$this->handlers) {
            throw new ConfigError('no handlers are registered: nothing to run');
        }
        $missing = array_diff($config->taskTypes === null ? [] : $config->taskTypes, array_keys($this->handlers));
        if ($missing) {
            throw new ConfigError(sprintf('TASK_TYPES: no handler for %s (known: %s)', implode(', ', $missing), implode(', ', $this->taskTypes())));
        }
        if ($config->taskTypes === null && count($this->handlers) > Config::MAX_TASK_TYPES) {
            throw new ConfigError(sprintf('more than %d handlers: choose with TASK_TYPES', Config::MAX_TASK_TYPES));
        }
    }

    /** Run until max runs, a signal, or a failure; answers the exit status. */
    public function run(Config $config): int
    {
        $this->check($config);
        if ($config->taskTypes === null) {
            $config->taskTypes = $this->taskTypes();
        }
        $this->config = $config;
        $this->log = new Logger($config->debug, $config->logFormat, $config->workerId);
        $this->log->captureErrors();
        $this->stats = new Stats();
        $this->api = new Api($this->newClient(30.0), $config, $this->log, $this->stats, function () {
            return $this->stopping;
        });
        $this->installSignalHandlers();
        try {
            $health = $this->api->checkHealth();
        } catch (StartupFailed $e) {
            $this->log->error($e->getMessage());
            return self::EXIT_FAILURE;
        }
        $this->logStart($health);
        $this->warnAboutConcurrency();
        $this->claimLoop();
        $this->sweep();
        return $this->finish($this->failure === null && !$this->aborting ? self::EXIT_OK : self::EXIT_FAILURE);
    }

    private function claimLoop(): void
    {
        $claimed = 0;
        while (!$this->stopping && ($this->config->maxRuns === 0 || $claimed < $this->config->maxRuns)) {
            $task = $this->claim();
            if ($task === null) {
                continue;
            }
            $claimed++;
            $this->work(new TaskRun($task, $this->api, $this->handlerFor($task['type']), $this->config->workerId));
        }
    }

    private function claim(): ?array
    {
        try {
            return $this->api->claim();
        } catch (TooManyErrors $e) {
            $this->failRun($e->getMessage());
        } catch (\TaskManagerException $e) {
            $details = $e->getDetails();
            if (!empty($details['aborted'])) {
                $this->claimCutOff = true;
                return null;
            }
            $this->failRun(sprintf('the API refused to hand out tasks: %s (%s)%s', $e->getMessage(), $e->getErrorCode(), self::keyHint($e)));
        }
        return null;
    }

    private function work(TaskRun $run): void
    {
        $this->log->debug(sprintf('claimed task %s %s', $run->id(), $run->ctx->type), ['task_id' => $run->id()]);
        $this->inHand = $run;
        try {
            $outcome = $run->run();
        } catch (TooManyErrors $e) {
            $outcome = new Outcome('unreported', $e->getMessage());
            $this->failRun($e->getMessage());
        } catch (\TaskManagerException $e) {
            $outcome = new Outcome('unreported', sprintf('the API refused the report: %s (%s)', $e->getMessage(), $e->getErrorCode()));
        } finally {
            $this->inHand = null;
        }
        $this->record($run, $outcome);
    }

    /** What to check when the API refuses the worker's key ('' for other errors). */
    private static function keyHint(\TaskManagerException $e): string
    {
        $refused = in_array($e->getErrorCode(), ['unauthorized', 'forbidden'], true);
        return $refused ? '; check --api-key (TASKMANAGER_API_KEY): a worker needs a key of role worker' : '';
    }

    private function record(TaskRun $run, Outcome $outcome): void
    {
        $run->logOutcome($this->log, $outcome);
        $this->stats->record($outcome->name, microtime(true) - $run->started);
    }

    private function failRun(string $reason): void
    {
        if ($this->failure === null) {
            $this->failure = $reason;
            $this->log->error($reason);
        }
        $this->stopping = true;
    }

    /** @return callable|null */
    private function handlerFor(string $type)
    {
        return isset($this->handlers[$type]) ? $this->handlers[$type] : null;
    }

    private function newClient(float $timeout): \WorkerClient
    {
        $log = $this->log;
        $debug = $this->config->debug ? function (string $line) use ($log) {
            $log->debug($line);
        } : null;
        return new \WorkerClient($this->config->apiUrl, [
            'api_key' => $this->config->apiKey,
            'timeout' => $timeout,
            'debug' => $debug,
            'verify' => $this->config->caBundle === null ? true : $this->config->caBundle,
        ]);
    }

    // -- stopping -------------------------------------------------------------------------------

    private function installSignalHandlers(): void
    {
        if (!function_exists('pcntl_signal') || !function_exists('pcntl_async_signals')) {
            $this->log->debug('the pcntl extension is missing: SIGTERM and SIGINT end the worker at once');
            return;
        }
        pcntl_async_signals(true);
        $handler = function () {
            $this->requestStop();
        };
        pcntl_signal(SIGTERM, $handler);
        pcntl_signal(SIGINT, $handler);
    }

    /** First call: finish the task in hand and exit. Second: hand it back and exit at once. */
    public function requestStop(): void
    {
        $this->signals++;
        if ($this->signals === 1) {
            $this->log->info($this->inHand === null
                ? 'stop requested: no task in hand, exiting'
                : sprintf('stop requested: finishing task %s; signal again to hand it back and exit at once', $this->inHand->id()));
            $this->stopping = true;
            return;
        }
        $this->log->warning(sprintf('second stop request: %s and exiting', $this->inHand === null ? 'no task to hand back' : 'handing back task ' . $this->inHand->id()));
        $this->stopping = true;
        $this->aborting = true;
        if ($this->inHand === null) {
            return; // the loop ends at its next check (a waiting claim is abandoned within a second)
        }
        // The handler may not return for a long time: hand its task back and exit from here.
        $run = $this->inHand;
        $this->inHand = null;
        $this->handBack($run);
        exit($this->finish(self::EXIT_FAILURE));
    }

    private function handBack(TaskRun $run): void
    {
        // A client of its own: the signal may arrive while the main one is inside a request.
        $client = $this->newClient(Api::HAND_BACK_TIMEOUT_SECONDS);
        $reason = sprintf('handed back by worker %s, which is stopping', $this->config->workerId);
        try {
            $this->api->handBack($client, $run->id(), $run->task['lease_token'], $reason);
            $outcome = new Outcome('handed_back');
        } catch (\TaskManagerException $e) {
            $gone = $e->isDropped() || $e->getErrorCode() === 'invalid_state';
            $outcome = $gone
                ? new Outcome('lease_lost', 'not handed back: ' . $e->getMessage())
                : new Outcome('unreported', 'could not hand back: ' . $e->getMessage());
        }
        $this->record($run, $outcome);
    }

    /** A claim cut off by the stop may have leased a task we never saw: give it back. */
    private function sweep(): void
    {
        if (!$this->claimCutOff || $this->failure !== null) {
            return;
        }
        $client = $this->newClient(Api::HAND_BACK_TIMEOUT_SECONDS);
        try {
            foreach ($this->api->heldTasks($client) as $task) {
                $reason = sprintf('claimed while worker %s was stopping', $this->config->workerId);
                $this->api->handBack($client, $task['id'], null, $reason);
                $this->log->info(sprintf('handed back task %s, claimed as the worker stopped', $task['id']));
            }
        } catch (\TaskManagerException $e) {
            $this->log->warning('could not check for tasks claimed while stopping: ' . $e->getMessage());
        }
    }

    private function finish(int $status): int
    {
        $this->log->info(
            sprintf('worker %s stopped (exit status %d): %s', $this->config->workerId, $status, $this->stats->describe()),
            ['stats' => $this->stats->summary(), 'exit_status' => $status]
        );
        return $status;
    }

    /** One process runs one task: say how to get what CONCURRENCY asked for. */
    private function warnAboutConcurrency(): void
    {
        $wanted = $this->config->concurrency;
        if ($wanted > 1) {
            $this->log->warning(sprintf(
                'CONCURRENCY is %d, but the PHP worker runs one task at a time per process: start %d worker processes for %d at once (systemd taskmanager-php-worker@N, supervisor numprocs)',
                $wanted,
                $wanted,
                $wanted
            ));
        }
    }

    private function logStart(array $health): void
    {
        $config = $this->config;
        $this->log->info(sprintf(
            'worker %s started: API %s (version %s), PHP %s, poll interval %g s, max runs %s, task types: %s%s',
            $config->workerId,
            $config->apiUrl,
            isset($health['version']) ? $health['version'] : '?',
            PHP_VERSION,
            $config->pollInterval,
            $config->maxRuns === 0 ? 'unlimited' : (string) $config->maxRuns,
            implode(', ', $config->taskTypes),
            function_exists('pcntl_signal') ? '' : ' (no pcntl: stop signals are not caught)'
        ));
    }
}
