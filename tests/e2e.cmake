# End-to-end tests of the `tide` command: scripts in tests/scripts/ run by
# the built binary, their CSV output compared (numbers with a tolerance) with
# expected files computed by hand, exact error lines for failing scripts,
# and the command-line interface. Included from tests/CMakeLists.txt.
#
# SPDX-License-Identifier: Apache-2.0
set(TIDE_E2E_DIR ${CMAKE_CURRENT_SOURCE_DIR}/scripts)
set(TIDE_E2E_OUT ${CMAKE_CURRENT_BINARY_DIR}/e2e)
file(MAKE_DIRECTORY ${TIDE_E2E_OUT})

add_executable(tide_csvdiff ${TIDE_E2E_DIR}/csvdiff.c)
target_compile_options(tide_csvdiff PRIVATE ${TIDE_WARN})
target_link_libraries(tide_csvdiff PRIVATE m)

# tide_e2e(NAME ARGS a b ... [RC n] [CSV expected.csv] [STDOUT file]
#          [STDERR file] [STDERR_REGEX re] [STDOUT_REGEX re] [ONE_LINE]
#          [TIMING_LINES n...] [SAME a b])
# Runs `tide ARGS` in tests/scripts. With CSV, "--set out=<build>/e2e/NAME.csv"
# is appended and that file is compared with tests/scripts/<CSV>.
function(tide_e2e name)
  cmake_parse_arguments(E "ONE_LINE" "RC;CSV;STDOUT;STDERR;STDERR_REGEX;STDOUT_REGEX"
                        "ARGS;TIMING_LINES;SAME" ${ARGN})
  set(args ${E_ARGS})
  set(defs -DTIDE=$<TARGET_FILE:tide> -DWORKDIR=${TIDE_E2E_DIR})
  if(E_CSV)
    set(out ${TIDE_E2E_OUT}/${name}.csv)
    list(APPEND args --set out=${out})
    list(APPEND defs -DCSVDIFF=$<TARGET_FILE:tide_csvdiff> -DOUT_CSV=${out}
         -DEXPECT_CSV=${TIDE_E2E_DIR}/${E_CSV})
  endif()
  if(DEFINED E_RC)
    list(APPEND defs -DEXPECT_RC=${E_RC})
  endif()
  if(E_STDOUT)
    list(APPEND defs -DEXPECT_STDOUT=${TIDE_E2E_DIR}/${E_STDOUT})
  endif()
  if(E_STDERR)
    list(APPEND defs -DEXPECT_STDERR=${TIDE_E2E_DIR}/${E_STDERR})
  endif()
  if(E_STDERR_REGEX)
    list(APPEND defs "-DSTDERR_REGEX=${E_STDERR_REGEX}")
  endif()
  if(E_STDOUT_REGEX)
    list(APPEND defs "-DSTDOUT_REGEX=${E_STDOUT_REGEX}")
  endif()
  if(E_ONE_LINE)
    list(APPEND defs -DONE_LINE_STDERR=1)
  endif()
  if(E_TIMING_LINES)
    string(REPLACE ";" "$<SEMICOLON>" tl "${E_TIMING_LINES}")
    list(APPEND defs "-DTIMING_LINES=${tl}")
  endif()
  if(E_SAME)
    string(REPLACE ";" "$<SEMICOLON>" same "${E_SAME}")
    list(APPEND defs "-DSAME_FILES=${same}")
  endif()
  string(REPLACE ";" "$<SEMICOLON>" argstr "${args}")
  add_test(NAME e2e_${name}
           COMMAND ${CMAKE_COMMAND} ${defs} "-DARGS=${argstr}" -P ${TIDE_E2E_DIR}/run_e2e.cmake)
endfunction()

# --- scripts with results computed by hand
tide_e2e(vwap ARGS run vwap.tide CSV vwap.expected.csv)
tide_e2e(chain ARGS run chain.tide CSV chain.expected.csv)
tide_e2e(stats ARGS run stats.tide CSV stats.expected.csv)
tide_e2e(joins ARGS run joins.tide CSV joins.expected.csv)
tide_e2e(asof ARGS run asof.tide CSV asof.expected.csv)
tide_e2e(print ARGS run print.tide STDOUT print.expected.out)
tide_e2e(print_threads ARGS run print.tide --threads 2 STDOUT print.expected.out)
tide_e2e(timings ARGS run vwap.tide --timings CSV vwap.expected.csv TIMING_LINES 2 3 4 5)

# --- the groupby examples on a tiny hand-checked G1 file
foreach(q 1 3 7 8)
  tide_e2e(groupby_q${q}
           ARGS run ${PROJECT_SOURCE_DIR}/examples/groupby/q${q}.tide --set input=tiny_g1.csv
                --set output=${TIDE_E2E_OUT}/groupby_q${q}.csv
           CSV gb_q${q}.expected.csv)
endforeach()
# (the CSV option passes --set out=..., which these scripts ignore: they
# read `output`, set to the same path above)

# --- errors: exactly one "SCRIPT:LINE:COL: error: MESSAGE" line, exit 1
foreach(e parse name type kwarg agg div)
  tide_e2e(error_${e} ARGS run err_${e}.tide RC 1 STDERR err_${e}.expected.err)
endforeach()
tide_e2e(error_engine ARGS run err_engine.tide RC 1 ONE_LINE
         STDERR_REGEX "^err_engine\\.tide:3:8: error: .*Volume")
tide_e2e(error_csv ARGS run err_csv.tide RC 1 ONE_LINE
         STDERR_REGEX "^err_csv\\.tide:1:5: error: .*no_such_file\\.csv")

# --- command line
tide_e2e(cli_version ARGS --version STDOUT_REGEX "^tide [0-9]+\\.[0-9]+\\.[0-9]+")
tide_e2e(cli_help ARGS --help STDOUT_REGEX "usage: tide COMMAND.*run.*gen-groupby")
tide_e2e(cli_run_help ARGS run --help STDOUT_REGEX "usage: tide run SCRIPT.*--threads.*--timings")
tide_e2e(cli_no_args RC 2 STDERR_REGEX "usage: tide")
tide_e2e(cli_unknown_command ARGS frobnicate RC 2 STDERR_REGEX "unknown command 'frobnicate'")
tide_e2e(cli_missing_script ARGS run RC 2 STDERR_REGEX "missing SCRIPT")
tide_e2e(cli_unknown_option ARGS run vwap.tide --bogus RC 2 STDERR_REGEX "unknown option '--bogus'")
tide_e2e(cli_bad_threads ARGS run print.tide --threads many RC 2 STDERR_REGEX "--threads")
tide_e2e(cli_no_such_script ARGS run no_such.tide RC 1 STDERR_REGEX "cannot read script 'no_such.tide'")
tide_e2e(cli_gen_missing_k ARGS gen-groupby --rows 10 --out ${TIDE_E2E_OUT}/x.csv RC 2
         STDERR_REGEX "missing --k")
tide_e2e(cli_gen_stdout ARGS gen-groupby --rows 3 --k 2 --seed 5 --out -
         STDOUT_REGEX "^id1,id2,id3,id4,id5,id6,v1,v2,v3\n(id00[12],id00[12],id000000000[1],[12],[12],1,[1-5],[0-9]+,[0-9]+\\.[0-9]+\n)+$")
tide_e2e(cli_script_is_dir ARGS run . RC 1 STDERR_REGEX "cannot read script '\\.'")
tide_e2e(cli_threads_negative ARGS run print.tide --threads -1 RC 2 STDERR_REGEX "--threads")
tide_e2e(cli_threads_huge ARGS run print.tide --threads 99999 RC 2 STDERR_REGEX "--threads")
tide_e2e(cli_threads_zero ARGS run print.tide --threads 0 STDOUT print.expected.out)
# output that cannot be written (a full disk) is an error, not exit 0
add_test(NAME e2e_cli_stdout_full
         COMMAND sh -c "out=$($<TARGET_FILE:tide> run print.tide 2>&1 >/dev/full); rc=$?; echo \"$out\"; test $rc -eq 1 && echo \"$out\" | grep -q 'cannot write the output'"
         WORKING_DIRECTORY ${TIDE_E2E_DIR})

# --- ticking tables (replay, time_table, input_table, run_cycles; simulated
# clock: 2026-01-01T09:30:00Z + 100 ms per cycle)
tide_e2e(tick_replay ARGS run tick_replay.tide STDOUT tick_replay.expected.out)
tide_e2e(tick_input ARGS run tick_input.tide STDOUT tick_input.expected.out)
tide_e2e(tick_sets ARGS run tick_sets.tide STDOUT tick_sets.expected.out)
tide_e2e(tick_err_ring ARGS run tick_err_ring.tide RC 1 STDERR tick_err_ring.expected.err)
tide_e2e(tick_cycles ARGS run tick_cycles.tide --cycles 4 STDOUT tick_cycles.expected.out
         CSV tick_cycles.expected.csv)
tide_e2e(tick_duration ARGS run tick_cycles.tide --duration 1s --period 20ms
         STDOUT_REGEX "--- after [0-9]+ cycles ---" CSV tick_cycles.expected.csv)
foreach(e duration replay add)
  tide_e2e(tick_err_${e} ARGS run tick_err_${e}.tide RC 1 STDERR tick_err_${e}.expected.err)
endforeach()
tide_e2e(cli_bad_duration ARGS run tick_replay.tide --duration 5x RC 2
         STDERR_REGEX "--duration: bad duration '5x'")
tide_e2e(cli_bad_period ARGS run tick_replay.tide --period PT0S RC 2
         STDERR_REGEX "--period: duration 'PT0S' must be positive")
tide_e2e(cli_cycles_and_duration ARGS run tick_replay.tide --cycles 2 --duration 1s RC 2
         STDERR_REGEX "not both")
tide_e2e(cli_bad_cycles ARGS run tick_replay.tide --cycles many RC 2 STDERR_REGEX "--cycles")
# every ticking operation's snapshot after 65 cycles equals the same
# operation over snapshots of its inputs (tick_pipeline.tide writes pairs)
set(tp ${TIDE_E2E_OUT}/tick_pipeline)
set(tp_same)
foreach(op join aj top hb vwap dist in merge)
  list(APPEND tp_same ${tp}.${op}.tick.csv ${tp}.${op}.static.csv)
endforeach()
tide_e2e(tick_pipeline ARGS run tick_pipeline.tide --set out=${tp} SAME ${tp_same})
# the ticking market example runs with --cycles (aj, natural_join, agg_by,
# sort+head, ring_table, select_distinct on time tables)
tide_e2e(example_market ARGS run ${PROJECT_SOURCE_DIR}/examples/ticking/market.tide --cycles 10
         STDOUT_REGEX "--- after 10 cycles ---.*Energy")

# --- storage: write_table/read_table round trip (every codec) and
# historical partitions through WritablePartitions links (io/historical.c)
set(st_dir ${TIDE_E2E_OUT}/storage_roundtrip.d)
add_test(NAME e2e_storage_roundtrip
         COMMAND sh -c "rm -rf '${st_dir}' && mkdir -p '${st_dir}' && $<TARGET_FILE:tide> run storage_roundtrip.tide --set dir='${st_dir}' --set out='${TIDE_E2E_OUT}/storage_roundtrip.csv' && $<TARGET_FILE:tide_csvdiff> '${TIDE_E2E_OUT}/storage_roundtrip.csv' storage_roundtrip.expected.csv"
         WORKING_DIRECTORY ${TIDE_E2E_DIR})
set(hd ${TIDE_E2E_OUT}/storage_historical.db)
set(hm ${hd}/Systems/Mkt)
add_test(NAME e2e_storage_historical
         COMMAND sh -c "rm -rf '${hd}' && mkdir -p '${hm}/Partitions/0' '${hm}/Partitions/1' '${hm}/WritablePartitions' && ln -s ../Partitions/0 '${hm}/WritablePartitions/0' && ln -s ../Partitions/1 '${hm}/WritablePartitions/1' && $<TARGET_FILE:tide> run storage_historical.tide --set db='${hd}' --set out='${TIDE_E2E_OUT}/storage_historical.csv' --set out2='${TIDE_E2E_OUT}/storage_historical2.csv' && $<TARGET_FILE:tide_csvdiff> '${TIDE_E2E_OUT}/storage_historical.csv' storage_historical.expected.csv && $<TARGET_FILE:tide_csvdiff> '${TIDE_E2E_OUT}/storage_historical2.csv' storage_historical2.expected.csv"
         WORKING_DIRECTORY ${TIDE_E2E_DIR})
foreach(e read_table historical)
  tide_e2e(error_${e} ARGS run err_${e}.tide RC 1 STDERR err_${e}.expected.err)
endforeach()
