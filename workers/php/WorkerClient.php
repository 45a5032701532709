<?php
/**
 * WorkerClient: the TaskManager HTTP API for PHP, one method per endpoint.
 *
 * Needs PHP 7.4+ with the curl and json extensions, nothing else. Every error answer of the API
 * becomes a TaskManagerException carrying the API's error code (`lease_lost`, `not_found`, ...),
 * the HTTP status and the details; a request that never got an answer (connection refused,
 * timeout, DNS) is a TaskManagerNetworkException with the code `unavailable` and status 0.
 *
 *     require __DIR__ . '/WorkerClient.php';
 *     $client = new WorkerClient('http://localhost:8000/api', ['api_key' => getenv('TASKMANAGER_API_KEY') ?: null]);
 *     $task = $client->createTask('example.echo', ['message' => 'hi']);
 *     $task = $client->claim('worker-01', ['wait_seconds' => 10]);
 */

/** An error answer of the API, or a request that got none. */
class TaskManagerException extends RuntimeException
{
    /** @var string */
    private $errorCode;
    /** @var int */
    private $status;
    /** @var array */
    private $details;

    public function __construct(string $errorCode, string $message, int $status = 0, array $details = [], ?Throwable $previous = null)
    {
        parent::__construct($message, $status, $previous);
        $this->errorCode = $errorCode;
        $this->status = $status;
        $this->details = $details;
    }

    /** The API's error code: validation_error, not_found, lease_lost, task_cancelled, conflict, ... */
    public function getErrorCode(): string
    {
        return $this->errorCode;
    }

    /** The HTTP status of the answer; 0 when no answer came. */
    public function getStatus(): int
    {
        return $this->status;
    }

    /** The `details` object of the answer, e.g. ['errors' => [...]] for a validation error. */
    public function getDetails(): array
    {
        return $this->details;
    }

    /** Worth retrying unchanged: no answer, 503, 429, or a server error without a known code. */
    public function isTransient(): bool
    {
        if ($this->status === 0 || $this->status === 503 || $this->status === 429) {
            return true;
        }
        return $this->status >= 500 && $this->errorCode === 'server_error';
    }

    /** The task is not this worker's any more (lease lost or task cancelled): drop it. */
    public function isDropped(): bool
    {
        return $this->errorCode === 'lease_lost' || $this->errorCode === 'task_cancelled';
    }
}

/** No answer from the API: connection refused, timeout, name not resolved, TLS failure. */
class TaskManagerNetworkException extends TaskManagerException
{
}

class WorkerClient
{
    const DEFAULT_API_URL = 'http://localhost:8000/api';
    const DEFAULT_TIMEOUT_SECONDS = 30.0;
    const CONNECT_TIMEOUT_SECONDS = 10.0;
    /** Extra time a long-poll claim gets beyond its wait_seconds before the client gives up. */
    const LONG_POLL_MARGIN_SECONDS = 10.0;

    /** @var string */
    private $apiUrl;
    /** @var string|null */
    private $apiKey;
    /** @var float */
    private $timeout;
    /** @var callable|null */
    private $debug;
    /** @var bool|string */
    private $verify;
    /** @var string */
    private $userAgent;
    /** @var resource|object|null */
    private $curl;

    /**
     * @param array $options api_key (string), timeout (seconds, default 30), verify (bool or a CA
     *     bundle path, default true), debug (callable receiving one line per HTTP call),
     *     user_agent (string)
     */
    public function __construct(string $apiUrl = self::DEFAULT_API_URL, array $options = [])
    {
        if (!function_exists('curl_init')) {
            throw new TaskManagerException('unavailable', 'the PHP curl extension is not loaded (install php-curl)');
        }
        $this->apiUrl = rtrim($apiUrl, '/');
        $this->apiKey = isset($options['api_key']) && $options['api_key'] !== '' ? (string) $options['api_key'] : null;
        $this->timeout = isset($options['timeout']) ? (float) $options['timeout'] : self::DEFAULT_TIMEOUT_SECONDS;
        $this->debug = isset($options['debug']) ? $options['debug'] : null;
        $this->verify = array_key_exists('verify', $options) ? $options['verify'] : true;
        $this->userAgent = isset($options['user_agent']) ? (string) $options['user_agent'] : 'taskmanager-php-worker';
    }

    public function getApiUrl(): string
    {
        return $this->apiUrl;
    }

    // -- health -------------------------------------------------------------------------------

    /** GET /health: ['status' => 'ok', 'database' => 'ok', 'version' => ...]. */
    public function health(): array
    {
        return $this->request('GET', 'health');
    }

    // -- producers ----------------------------------------------------------------------------

    /**
     * POST /tasks. $options: priority, run_at, delay_seconds, max_attempts, idempotency_key.
     */
    public function createTask(string $type, array $params = [], array $options = []): array
    {
        $body = array_merge($options, ['type' => $type, 'params' => self::object($params)]);
        return $this->request('POST', 'tasks', $body);
    }

    /** POST /tasks/batch: each item is ['type' => ..., 'params' => [...], ...]; all or none. */
    public function createTasks(array $tasks): array
    {
        $items = [];
        foreach ($tasks as $task) {
            if (array_key_exists('params', $task)) {
                $task['params'] = self::object($task['params']);
            }
            $items[] = $task;
        }
        $answer = $this->request('POST', 'tasks/batch', ['tasks' => $items]);
        return $answer['tasks'];
    }

    /** GET /tasks. $filters: status, type, worker_id, limit, cursor. ['tasks' => [...], 'next_cursor' => ...]. */
    public function listTasks(array $filters = []): array
    {
        return $this->request('GET', 'tasks', null, $filters);
    }

    /** GET /tasks/{id}. */
    public function getTask(string $taskId): array
    {
        return $this->request('GET', 'tasks/' . rawurlencode($taskId));
    }

    /** POST /tasks/{id}/cancel. */
    public function cancelTask(string $taskId): array
    {
        return $this->request('POST', 'tasks/' . rawurlencode($taskId) . '/cancel', self::object([]));
    }

    /** POST /tasks/{id}/retry: a failed or cancelled task back to pending, attempts reset. */
    public function retryTask(string $taskId): array
    {
        return $this->request('POST', 'tasks/' . rawurlencode($taskId) . '/retry', self::object([]));
    }

    // -- workers ------------------------------------------------------------------------------

    /**
     * POST /tasks/claim: the task with its lease_token, or null when none is available.
     * $options: task_types (list), lease_seconds, wait_seconds (0-30, a long poll), and
     * abort_check: a function called about once a second while the claim waits; when it returns
     * true the claim is abandoned (a TaskManagerNetworkException with details ['aborted' => true]).
     */
    public function claim(string $workerId, array $options = []): ?array
    {
        $abort = isset($options['abort_check']) ? $options['abort_check'] : null;
        unset($options['abort_check']);
        $body = array_merge(self::compact($options), ['worker_id' => $workerId]);
        $wait = isset($options['wait_seconds']) ? (float) $options['wait_seconds'] : 0.0;
        return $this->request('POST', 'tasks/claim', $body, [], $this->waitTimeout($wait), $abort);
    }

    /** POST /tasks/claim/batch: up to $limit tasks (1-100), each with its lease_token. */
    public function claimBatch(string $workerId, int $limit, array $options = []): array
    {
        $body = array_merge(self::compact($options), ['worker_id' => $workerId, 'limit' => $limit]);
        $wait = isset($options['wait_seconds']) ? (float) $options['wait_seconds'] : 0.0;
        $answer = $this->request('POST', 'tasks/claim/batch', $body, [], $this->waitTimeout($wait));
        return $answer['tasks'];
    }

    /**
     * POST /tasks/{id}/heartbeat: extends the lease. $options: lease_seconds, progress (0-100),
     * message. Throws with code lease_lost or task_cancelled when the task is no longer yours.
     */
    public function heartbeat(string $taskId, string $workerId, string $leaseToken, array $options = []): array
    {
        $body = array_merge(self::compact($options), ['worker_id' => $workerId, 'lease_token' => $leaseToken]);
        return $this->request('POST', 'tasks/' . rawurlencode($taskId) . '/heartbeat', $body);
    }

    /** POST /tasks/{id}/complete, fenced by the lease token. */
    public function complete(string $taskId, array $result = [], ?string $workerId = null, ?string $leaseToken = null): array
    {
        $body = self::compact(['result' => self::object($result), 'worker_id' => $workerId, 'lease_token' => $leaseToken]);
        return $this->request('POST', 'tasks/' . rawurlencode($taskId) . '/complete', $body);
    }

    /** POST /tasks/complete/batch: items are ['id', 'lease_token', 'result']; one outcome each. */
    public function completeBatch(string $workerId, array $items): array
    {
        $tasks = [];
        foreach ($items as $item) {
            $item['result'] = self::object(isset($item['result']) ? $item['result'] : []);
            $tasks[] = $item;
        }
        $answer = $this->request('POST', 'tasks/complete/batch', ['worker_id' => $workerId, 'tasks' => $tasks]);
        return $answer['tasks'];
    }

    /**
     * POST /tasks/{id}/fail, fenced by the lease token. $options: retry (bool, default true;
     * false makes the failure final), retry_delay_seconds, worker_id, lease_token.
     */
    public function fail(string $taskId, string $error, array $options = []): array
    {
        $body = array_merge(self::compact($options), ['error' => $error]);
        return $this->request('POST', 'tasks/' . rawurlencode($taskId) . '/fail', $body);
    }

    // -- monitoring and task types ------------------------------------------------------------

    /** GET /workers: the list of workers seen. */
    public function listWorkers(): array
    {
        $answer = $this->request('GET', 'workers');
        return $answer['workers'];
    }

    /** GET /workers/{worker_id}/stats. */
    public function workerStats(string $workerId): array
    {
        return $this->request('GET', 'workers/' . rawurlencode($workerId) . '/stats');
    }

    /** GET /stats: queue depth, throughput, oldest pending age, processing times. */
    public function stats(): array
    {
        return $this->request('GET', 'stats');
    }

    /** PUT /task-types/{type}: params_schema, max_attempts, lease_seconds, priority, description. */
    public function putTaskType(string $type, array $settings): array
    {
        if (isset($settings['params_schema']) && is_array($settings['params_schema'])) {
            $settings['params_schema'] = self::object($settings['params_schema']);
        }
        return $this->request('PUT', 'task-types/' . rawurlencode($type), self::object($settings));
    }

    /** GET /task-types/{type}. */
    public function getTaskType(string $type): array
    {
        return $this->request('GET', 'task-types/' . rawurlencode($type));
    }

    /** GET /task-types. */
    public function listTaskTypes(): array
    {
        $answer = $this->request('GET', 'task-types');
        return isset($answer['task_types']) ? $answer['task_types'] : $answer;
    }

    // -- the request --------------------------------------------------------------------------

    /**
     * Send one request and decode its JSON answer; throws TaskManagerException on an error.
     *
     * @param mixed $body null for none, else anything json_encode takes
     * @return mixed the decoded answer (arrays for JSON objects)
     */
    public function request(string $method, string $path, $body = null, array $query = [], ?float $timeout = null, ?callable $abort = null)
    {
        $url = $this->apiUrl . '/' . ltrim($path, '/');
        $query = self::compact($query);
        if ($query) {
            $url .= '?' . http_build_query($query, '', '&', PHP_QUERY_RFC3986);
        }
        $payload = $body === null ? null : self::encode($body);
        $started = microtime(true);
        list($status, $text) = $this->send($method, $url, $payload, $timeout === null ? $this->timeout : $timeout, $started, $abort);
        $this->log(sprintf('%s %s -> %d in %.3f s', $method, $url, $status, microtime(true) - $started));
        return $this->read($status, $text);
    }

    /** The timeout of a claim that may wait $wait seconds: always longer than the wait. */
    public function waitTimeout(float $wait): float
    {
        return max($this->timeout, $wait + self::LONG_POLL_MARGIN_SECONDS);
    }

    /** @return array{0: int, 1: string} */
    private function send(string $method, string $url, ?string $payload, float $timeout, float $started, ?callable $abort): array
    {
        $curl = $this->handle();
        $headers = ['Accept: application/json'];
        if ($payload !== null) {
            $headers[] = 'Content-Type: application/json';
        }
        if ($this->apiKey !== null) {
            $headers[] = 'Authorization: Bearer ' . $this->apiKey;
        }
        $options = [
            CURLOPT_URL => $url,
            CURLOPT_CUSTOMREQUEST => $method,
            CURLOPT_RETURNTRANSFER => true,
            CURLOPT_HTTPHEADER => $headers,
            CURLOPT_USERAGENT => $this->userAgent,
            CURLOPT_TIMEOUT_MS => (int) ceil($timeout * 1000),
            CURLOPT_CONNECTTIMEOUT_MS => (int) ceil(min($timeout, self::CONNECT_TIMEOUT_SECONDS) * 1000),
            CURLOPT_NOSIGNAL => true,
            CURLOPT_FOLLOWLOCATION => false,
            CURLOPT_PROTOCOLS => CURLPROTO_HTTP | CURLPROTO_HTTPS,
        ];
        $options += $this->tlsOptions();
        if ($payload !== null) {
            $options[CURLOPT_POSTFIELDS] = $payload;
        }
        $aborted = false;
        if ($abort !== null) {
            $options[CURLOPT_NOPROGRESS] = false;
            $options[CURLOPT_PROGRESSFUNCTION] = function () use ($abort, &$aborted) {
                $aborted = (bool) $abort();
                return $aborted ? 1 : 0;
            };
        }
        curl_reset($curl);
        curl_setopt_array($curl, $options);
        $text = curl_exec($curl);
        if ($text === false) {
            $reason = $aborted ? 'abandoned by the worker' : curl_error($curl);
            $this->log(sprintf('%s %s failed after %.3f s: %s', $method, $url, microtime(true) - $started, $reason));
            throw new TaskManagerNetworkException(
                'unavailable',
                sprintf('cannot reach %s: %s', $this->apiUrl, $reason),
                0,
                ['aborted' => $aborted, 'curl_errno' => curl_errno($curl)]
            );
        }
        return [(int) curl_getinfo($curl, CURLINFO_RESPONSE_CODE), (string) $text];
    }

    private function tlsOptions(): array
    {
        if ($this->verify === false) {
            return [CURLOPT_SSL_VERIFYPEER => false, CURLOPT_SSL_VERIFYHOST => 0];
        }
        if (is_string($this->verify) && $this->verify !== '') {
            return [CURLOPT_CAINFO => $this->verify, CURLOPT_SSL_VERIFYPEER => true, CURLOPT_SSL_VERIFYHOST => 2];
        }
        return [CURLOPT_SSL_VERIFYPEER => true, CURLOPT_SSL_VERIFYHOST => 2];
    }

    /** One curl handle for the client's life, so that connections are reused. */
    private function handle()
    {
        if ($this->curl === null) {
            $this->curl = curl_init();
        }
        return $this->curl;
    }

    /** @return mixed */
    private function read(int $status, string $text)
    {
        $answer = $text === '' ? null : json_decode($text, true, 512, JSON_BIGINT_AS_STRING);
        $valid = $text === '' || json_last_error() === JSON_ERROR_NONE;
        if ($status >= 200 && $status < 300) {
            if (!$valid) {
                throw new TaskManagerException('server_error', sprintf('the API answered %d with a body that is not JSON', $status), $status);
            }
            return $answer;
        }
        throw self::errorFrom($status, $valid ? $answer : null, $text);
    }

    /** The exception for an error answer: the API's code, message and details when it sent them. */
    public static function errorFrom(int $status, $answer, string $text = ''): TaskManagerException
    {
        if (is_array($answer) && isset($answer['error']) && is_string($answer['error'])) {
            $message = isset($answer['message']) && is_string($answer['message']) ? $answer['message'] : $answer['error'];
            $details = isset($answer['details']) && is_array($answer['details']) ? $answer['details'] : [];
            return new TaskManagerException($answer['error'], $message, $status, $details);
        }
        $code = $status === 503 ? 'unavailable' : ($status === 429 ? 'rate_limited' : 'server_error');
        $snippet = trim(substr($text, 0, 200));
        return new TaskManagerException($code, sprintf('the API answered HTTP %d%s', $status, $snippet === '' ? '' : ': ' . $snippet), $status);
    }

    /** JSON for the API: objects stay objects even when empty; invalid UTF-8 is refused. */
    public static function encode($body): string
    {
        $json = json_encode($body, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION);
        if ($json === false) {
            throw new TaskManagerException('validation_error', 'cannot encode the request as JSON: ' . json_last_error_msg());
        }
        return $json;
    }

    /** A PHP array sent as a JSON object: [] becomes {} instead of an empty list. */
    public static function object($value)
    {
        if (is_array($value) && $value === []) {
            return new stdClass();
        }
        return $value;
    }

    /** The entries whose value is not null (the API's optional fields, left out when unset). */
    private static function compact(array $values): array
    {
        return array_filter($values, function ($value) {
            return $value !== null;
        });
    }

    private function log(string $line): void
    {
        if ($this->debug !== null) {
            call_user_func($this->debug, $line);
        }
    }

    public function __destruct()
    {
        // Dropping the handle frees it (curl_close is a no-op since PHP 8 and deprecated later).
        $this->curl = null;
    }
}
