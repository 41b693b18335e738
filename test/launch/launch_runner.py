"""Run a launch file under a LaunchService and record its processes (a helper the launch tests
start as a separate process, so that they can signal it like a terminal's Ctrl-C does).

    python -m test.launch.launch_runner EVENTS.jsonl FILE.launch.py [name:=value ...]

Writes one JSON line per process start ({"event": "start", "name", "pid"}; name as launch
numbers it, e.g. hand_pose_node-2) and exit
({"event": "exit", "name", "pid", "returncode"}), then {"event": "end", "returncode"} with
LaunchService.run()'s status, which is also the exit status. Non-interactive: on Ctrl-C
launch forwards SIGINT to its processes (on top of the one the process group got).
"""
import json
import sys


def main(argv) -> int:
    from launch import LaunchDescription, LaunchService
    from launch.actions import IncludeLaunchDescription, RegisterEventHandler
    from launch.event_handlers import OnProcessExit, OnProcessStart
    from launch.launch_description_sources import PythonLaunchDescriptionSource

    events_path, launch_file, *pairs = argv
    arguments = dict(pair.split(':=', 1) for pair in pairs)
    with open(events_path, 'a', encoding='utf-8', buffering=1) as events:
        def record(kind):
            def handler(event, _context):
                row = {'event': kind, 'name': event.process_name, 'pid': event.pid}
                if kind == 'exit':
                    row['returncode'] = event.returncode
                events.write(json.dumps(row) + '\n')
            return handler

        description = LaunchDescription([
            RegisterEventHandler(OnProcessStart(on_start=record('start'))),
            RegisterEventHandler(OnProcessExit(on_exit=record('exit'))),
            IncludeLaunchDescription(PythonLaunchDescriptionSource(launch_file),
                                     launch_arguments=arguments.items()),
        ])
        try:
            service = LaunchService(noninteractive=True)
        except TypeError:   # older launch: no interactive mode, it always forwards SIGINT
            service = LaunchService()
        service.include_launch_description(description)
        code = service.run()
        events.write(json.dumps({'event': 'end', 'returncode': code}) + '\n')
    return code


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
