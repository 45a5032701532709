<?php
/**
 * Create a few test tasks of the built-in example types, for a worker to pick up.
 *
 *     php test_worker.php --num-tasks=5
 *     php worker.php --max-runs=5
 *
 * Options: --num-tasks=N (1-1000, default 5), --api-url=URL (env TASKMANAGER_API_URL),
 * --api-key=KEY (env TASKMANAGER_API_KEY), --with-errors (every fifth task an example.error).
 */

require_once __DIR__ . '/WorkerClient.php';

const SAMPLES = [
    ['example.echo', ['message' => 'Hello, World!']],
    ['example.uppercase', ['text' => 'hello, world']],
    ['example.math.add', ['a' => 2, 'b' => 3]],
    ['example.sleep', ['seconds' => 0.5]],
];
const ERROR_SAMPLE = ['example.error', ['message' => 'failing on purpose']];

/** @return array{num_tasks: int, api_url: string, api_key: ?string, with_errors: bool} */
function parse_options(array $args): array
{
    $env = function (string $name): ?string {
        $value = getenv($name);
        return $value === false || trim($value) === '' ? null : trim($value);
    };
    $options = [
        'num_tasks' => '5',
        'api_url' => $env('TASKMANAGER_API_URL') ?? WorkerClient::DEFAULT_API_URL,
        'api_key' => $env('TASKMANAGER_API_KEY'),
        'with_errors' => false,
    ];
    for ($i = 0; $i < count($args); $i++) {
        $parts = explode('=', (string) $args[$i], 2);
        $name = $parts[0];
        if ($name === '--help' || $name === '-h') {
            fwrite(STDOUT, "Usage: php test_worker.php [--num-tasks=N] [--api-url=URL] [--api-key=KEY] [--with-errors]\n");
            exit(0);
        }
        if ($name === '--with-errors') {
            $options['with_errors'] = true;
            continue;
        }
        $key = ['--num-tasks' => 'num_tasks', '--api-url' => 'api_url', '--api-key' => 'api_key'][$name] ?? null;
        if ($key === null) {
            usage_error(sprintf('unknown option %s', $name));
        }
        $value = $parts[1] ?? ($args[++$i] ?? null);
        if ($value === null) {
            usage_error(sprintf('%s needs a value', $name));
        }
        $options[$key] = $value;
    }
    if (!preg_match('/^\d+$/', (string) $options['num_tasks']) || (int) $options['num_tasks'] < 1 || (int) $options['num_tasks'] > 1000) {
        usage_error('--num-tasks must be from 1 to 1000');
    }
    $options['num_tasks'] = (int) $options['num_tasks'];
    if (!preg_match('#^https?://[^/]+#i', $options['api_url'])) {
        usage_error('--api-url must be an http:// or https:// URL, e.g. http://localhost:8000/api');
    }
    return $options;
}

function usage_error(string $message): void
{
    fwrite(STDERR, "error: $message\n");
    exit(2);
}

function sample(int $index, bool $withErrors): array
{
    list($type, $params) = SAMPLES[$index % count(SAMPLES)];
    if ($withErrors && $index % 5 === 4) {
        list($type, $params) = ERROR_SAMPLE;
    }
    return ['type' => $type, 'params' => $params + ['n' => $index + 1]];
}

function main(array $argv): int
{
    $options = parse_options(array_slice($argv, 1));
    $tasks = [];
    for ($index = 0; $index < $options['num_tasks']; $index++) {
        $tasks[] = sample($index, $options['with_errors']);
    }
    try {
        $client = new WorkerClient($options['api_url'], ['api_key' => $options['api_key']]);
        $created = $client->createTasks($tasks);
    } catch (TaskManagerException $e) {
        fwrite(STDERR, sprintf("error: %s (%s)\n", $e->getMessage(), $e->getErrorCode()));
        fwrite(STDERR, "Is the API running? Start it with `taskmanager serve`, or set --api-url.\n");
        return 1;
    }
    foreach ($created as $task) {
        fwrite(STDOUT, sprintf("created %s %s\n", $task['id'], $task['type']));
    }
    fwrite(STDOUT, sprintf("%d task(s) created at %s; run `php worker.php` to process them\n", count($created), $options['api_url']));
    return 0;
}

exit(main($argv));
